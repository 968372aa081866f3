/**
 * The progtc client: sends a program to a progtc server, runs its tool calls locally as they
 * arrive, and returns how the program ended. Runtime-neutral: only `fetch` and web streams.
 *
 * @module
 */
import type { ExecuteCodeResult, ExecuteCodeStepResult } from "../protocol.ts";
import { ProgtcHttpError } from "./errors.ts";
import { type ExecuteCodeOptions, executeStream } from "./execute_stream.ts";
import { type ExecuteCodeStepOptions, stepBody } from "./execute_step.ts";
import { parseStepResult } from "./frames.ts";
import { type Post, poster } from "./post.ts";
import { ProgtcSession, type SessionOptions } from "./session.ts";
import { ProgtcStepSession, type StepSessionOptions } from "./step_session.ts";

export type { ToolHandler } from "./tools.ts";

/** Options of {@linkcode ProgtcClient}. */
export interface ProgtcClientOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** The server's API key. */
  apiKey: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /**
   * The `fetch` to use (a test can pass an application's handler).
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
}

/** Talks to one progtc server. */
export class ProgtcClient {
  #baseUrl: string;
  #headers: Record<string, string>;
  #fetch: typeof fetch;
  #post: Post;

  /**
   * A client for the server at `options.baseUrl`.
   *
   * @example
   * ```ts
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * console.assert(client instanceof ProgtcClient);
   * ```
   */
  constructor(options: ProgtcClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#headers = { ...options.headers, "x-progtc-api-key": options.apiKey };
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#post = poster(this.#fetch, this.#baseUrl, this.#headers);
  }

  /** Whether the server answers `GET /ping` with 200 within `timeoutMs`. */
  async ping(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const signals = [AbortSignal.timeout(options.timeoutMs ?? 5000)];
    if (options.signal) signals.push(options.signal);
    try {
      const response = await this.#fetch(`${this.#baseUrl}/ping`, {
        headers: this.#headers,
        signal: AbortSignal.any(signals),
      });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Pings until the server answers; throws a TimeoutError after `timeoutMs`. */
  async waitForServer(options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    while (!await this.ping({ timeoutMs: Math.max(1, Math.min(5000, deadline - Date.now())) })) {
      if (Date.now() >= deadline) {
        throw new DOMException(`Server not ready after ${timeoutMs} ms`, "TimeoutError");
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
    }
  }

  /**
   * Runs a program and its tool calls; resolves with the terminal result. Tool calls run
   * concurrently as they arrive; a tool that throws is reported so that the program sees an
   * exception. Throws {@linkcode ProgtcHttpError} when the server refuses the request.
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const result = await client.executeCode({
   *   code: `import { add } from "tools"; console.log(await add(1, 2));`,
   *   tools: { add: (a: number, b: number) => a + b },
   * });
   * console.log(result.type, result.stdout); // success 3
   * ```
   */
  async executeCode(options: ExecuteCodeOptions): Promise<ExecuteCodeResult> {
    return (await this.#execute(options, {})).result;
  }

  /**
   * A session: programs run one after another in one realm on the server, so that what one
   * defines at its top level (values, functions, classes; Python: its globals) the next can
   * use. The server opens it with the first program.
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const session = client.session({ language: "python" });
   * await session.executeCode({ code: "rows = [1, 2, 3]", tools: {} });
   * console.log((await session.executeCode({ code: "print(len(rows))", tools: {} })).stdout);
   * ```
   */
  session(options?: SessionOptions & { api?: "stream" }): ProgtcSession;
  /**
   * A session over the step API: each program runs step by step, and the session lives in
   * the signed `session_state` the client carries between programs, so any server that shares
   * the key can continue it. Pass `state` to continue a session kept from before.
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const session = client.session({ api: "step", language: "python" });
   * await session.executeCode({ code: "rows = [1, 2, 3]", tools: {} });
   * const later = client.session({ api: "step", state: session.state! });
   * console.log((await later.executeCode({ code: "print(len(rows))", tools: {} })).stdout);
   * ```
   */
  session(options: StepSessionOptions): ProgtcStepSession;
  session(
    options: (SessionOptions & { api?: "stream" }) | StepSessionOptions = {},
  ): ProgtcSession | ProgtcStepSession {
    if (options.api === "step") {
      return new ProgtcStepSession((step) => this.executeCodeStep(step), options);
    }
    return new ProgtcSession((program, headers) => this.#execute(program, headers), options);
  }

  #execute(
    options: ExecuteCodeOptions,
    headers: Record<string, string>,
  ): Promise<{ result: ExecuteCodeResult; affinity: Record<string, string> }> {
    return executeStream({ post: this.#post, headers: this.#headers }, options, headers);
  }

  /**
   * Runs one step of a program with the step API: the server runs the program until it needs
   * tools and answers with the batch of calls and an opaque `state`, or with how the program
   * ended. Call again with the same code, the `state` and the results, until it ends.
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * import { runStepToolCalls } from "./execute_step.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const tools = { add: (a: number, b: number) => a + b };
   * const code = `import { add } from "tools"; console.log(await add(1, 2));`;
   * let step = await client.executeCodeStep({ code, toolNames: Object.keys(tools) });
   * while (step.type === "tool_call") {
   *   const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, tools);
   *   step = await client.executeCodeStep({
   *     code, toolNames: Object.keys(tools), state: step.state, toolResults, toolErrors,
   *   });
   * }
   * console.log(step.stdout); // 3
   * ```
   */
  async executeCodeStep(options: ExecuteCodeStepOptions): Promise<ExecuteCodeStepResult> {
    const response = await this.#post("/execute-code-step", stepBody(options), options.signal);
    if (!response.ok) throw await ProgtcHttpError.from(response);
    return parseStepResult(await response.json());
  }
}
