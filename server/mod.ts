/**
 * The progtc server: {@linkcode createApp} (a plain request handler) and
 * {@linkcode serve} (the same on `Deno.serve`).
 *
 * @example
 * ```ts ignore
 * import { serve } from "@progtc/progtc/server";
 * await using server = await serve({ apiKey: "secret", port: 0 });
 * console.log(`listening on ${server.url}`);
 * ```
 *
 * @module
 */
export { type App, createApp } from "./app.ts";
export { type AppOptions, OptionError } from "./options.ts";
export type { Settings } from "./option_types.ts";
export type { Audience } from "./option_kinds.ts";
export type { LogFormat } from "./log.ts";
export { type ProgtcServer, serve, type ServeOptions } from "./serve.ts";
export type { ConnectionStats } from "./connections.ts";
export type { RunnerHooks } from "../runner/runner_config.ts";
export type { SandboxKind } from "../sandbox/messages.ts";
