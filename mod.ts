/**
 * progtc for Deno: programmatic tool calling. An AI agent writes a short program that calls
 * the agent's tools; progtc runs it in a locked sandbox and routes each tool call back to the
 * agent's process. Wire-compatible with the Python package `progtc`.
 *
 * - `@progtc/progtc/client`: {@linkcode ProgtcClient}, runtime-neutral.
 * - `@progtc/progtc/server`: {@linkcode serve} and {@linkcode createApp}.
 * - `@progtc/progtc/cli`: `progtc serve`.
 *
 * @example
 * ```ts ignore
 * import { ProgtcClient, serve } from "@progtc/progtc";
 * await using server = await serve({ apiKey: "secret", port: 0 });
 * const client = new ProgtcClient({ baseUrl: server.url, apiKey: "secret" });
 * const result = await client.executeCode({ code: `console.log(1 + 1)`, tools: {} });
 * console.log(result.stdout); // 2
 * ```
 *
 * @module
 */
export * from "./client/mod.ts";
export * from "./server/mod.ts";
