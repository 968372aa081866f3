/**
 * The progtc client: sends a program to a progtc server, runs its tool calls locally as they
 * arrive, and returns how the program ended. Runtime-neutral: only `fetch` and web streams.
 *
 * @module
 */
import type {
  DeterminismMode,
  ExecuteCodeFrame,
  ExecuteCodeResult,
  ExecuteCodeStepResult,
  JsonValue,
  Language,
  OutputFrame,
  StepToolError,
  ToolCall,
} from "../protocol.ts";
import { ProgtcConnectionError, ProgtcHttpError, ProgtcProtocolError } from "./errors.ts";
import { readEvents } from "./sse.ts";
import { ProgtcSession, type SessionOptions } from "./session.ts";
import { ProgtcStepSession, type StepSessionOptions } from "./step_session.ts";
import { runTool, type Tool } from "./tools.ts";

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

/** Options of {@linkcode ProgtcClient.executeCode}. */
export interface ExecuteCodeOptions {
  /** The program. */
  code: string;
  /** The tools the program may call, by name: functions, or tools made with `defineTool`. */
  tools: Record<string, Tool>;
  /**
   * The program's language.
   * @default {the server's default language}
   */
  language?: Language;
  /** Aborts the execution: the server stops the program. */
  signal?: AbortSignal;
  /** Receives output while the program runs (asks the server for output frames). */
  onOutput?: (output: OutputFrame) => void;
  /** Receives every tool call before its tool runs. */
  onToolCall?: (call: ToolCall) => void;
  /**
   * Return the program's return value as `value`: its `export default` (TypeScript and
   * JavaScript), or the value of its last expression (Python).
   * @default {false}
   */
  returnValue?: boolean;
  /**
   * Run in a session: `"new"`, `"new:<id>"` or its id (what {@linkcode ProgtcClient.session}
   * sends for you).
   */
  session?: string;
}

/** Options of {@linkcode ProgtcClient.executeCodeStep}. */
export interface ExecuteCodeStepOptions {
  /** The program; the same on every step. */
  code: string;
  /** Names of the tools the program may call; the same on every step. */
  toolNames: string[];
  /** The `state` of the previous step's answer; absent on the first step. */
  state?: string;
  /** Results of the previous step's tool calls, in their order. */
  toolResults?: JsonValue[];
  /** Which of `toolResults` are failures (the program sees an exception with the message). */
  toolErrors?: StepToolError[];
  /**
   * The program's language.
   * @default {the server's default language}
   */
  language?: Language;
  /**
   * How replayed tool calls are checked; fixed by the first step.
   * @default {"strict"}
   */
  determinism?: DeterminismMode;
  /** Return the program's return value as `value` in its final answer. */
  returnValue?: boolean;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * On a program's first step: open a session, `"new"` or `"new:<id>"` (what
   * {@linkcode ProgtcClient.session} with `api: "step"` sends for you).
   */
  session?: string;
  /** On a program's first step: run in the session this `session_state` records. */
  sessionState?: string;
}

/**
 * Runs a step's tool calls concurrently, as {@linkcode ProgtcClient.executeCodeStep} wants them
 * back: `toolResults` in call order, and `toolErrors` for the tools that failed.
 *
 * @example
 * ```ts
 * import { runStepToolCalls } from "./client.ts";
 * const calls = [{ type: "tool_call" as const, id: "1", execution_id: "e", tool_name: "add",
 *   args: [1, 2], kwargs: {}, frame_id: [], call_index: 0 }];
 * const { toolResults } = await runStepToolCalls(calls, { add: (a: number, b: number) => a + b });
 * console.assert(toolResults[0] === 3);
 * ```
 */
export async function runStepToolCalls(
  calls: ToolCall[],
  tools: Record<string, Tool>,
): Promise<{ toolResults: JsonValue[]; toolErrors: StepToolError[] }> {
  const outcomes = await Promise.all(calls.map((call) => runTool(call, tools)));
  const toolErrors: StepToolError[] = [];
  const toolResults = outcomes.map((outcome, index): JsonValue => {
    if ("json" in outcome) return JSON.parse(outcome.json);
    toolErrors.push({ index, message: outcome.error });
    return null;
  });
  return { toolResults, toolErrors };
}

/** Talks to one progtc server. */
export class ProgtcClient {
  #baseUrl: string;
  #headers: Record<string, string>;
  #fetch: typeof fetch;

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

  async #execute(
    options: ExecuteCodeOptions,
    headers: Record<string, string>,
  ): Promise<{ result: ExecuteCodeResult; affinity: Record<string, string> }> {
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const body: Record<string, unknown> = {
      code: options.code,
      tool_names: Object.keys(options.tools),
    };
    if (options.language) body.language = options.language;
    if (options.onOutput) body.stream_output = true;
    if (options.returnValue) body.return_value = true;
    if (options.session) body.session = options.session;
    const response = await this.#post("/execute-code", body, signal, headers);
    if (!response.ok || !response.body) throw await ProgtcHttpError.from(response);
    if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
      await response.body.cancel();
      throw new ProgtcProtocolError("Expected an event stream from /execute-code");
    }
    // A load balancer's affinity cookie (HAProxy `cookie ... insert`, ingress affinity) must
    // reach /tool-results so they go to the instance running this execution.
    const affinity = {
      ...headers,
      ...affinityHeaders(response.headers, { ...this.#headers, ...headers }),
    };
    let failure: unknown;
    try {
      for await (const data of readEvents(response.body)) {
        const frame = parseFrame(data);
        switch (frame.type) {
          case "tool_call":
            options.onToolCall?.(frame);
            this.#runTool(frame, options.tools, signal, affinity).catch((error) => {
              failure ??= error;
              abort.abort(error);
            });
            break;
          case "stdout":
          case "stderr":
            options.onOutput?.(frame);
            break;
          default:
            return { result: frame, affinity };
        }
      }
    } catch (error) {
      throw failure ?? error;
    }
    throw failure ?? new ProgtcProtocolError("The event stream ended without a result");
  }

  /**
   * Runs one step of a program with the step API: the server runs the program until it needs
   * tools and answers with the batch of calls and an opaque `state`, or with how the program
   * ended. Call again with the same code, the `state` and the results, until it ends.
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient, runStepToolCalls } from "./client.ts";
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
    const body: Record<string, unknown> = { code: options.code, tool_names: options.toolNames };
    if (options.state !== undefined) body.state = options.state;
    if (options.toolResults !== undefined) body.tool_results = options.toolResults;
    if (options.toolErrors?.length) body.tool_errors = options.toolErrors;
    if (options.language) body.language = options.language;
    if (options.determinism) body.determinism = options.determinism;
    if (options.returnValue) body.return_value = true;
    if (options.session !== undefined) body.session = options.session;
    if (options.sessionState !== undefined) body.session_state = options.sessionState;
    const response = await this.#post("/execute-code-step", body, options.signal);
    if (!response.ok) throw await ProgtcHttpError.from(response);
    return parseStepResult(await response.json());
  }

  async #runTool(
    call: ToolCall,
    tools: Record<string, Tool>,
    signal: AbortSignal,
    affinity: Record<string, string>,
  ): Promise<void> {
    const outcome = await runTool(call, tools);
    const ids = `"execution_id":${JSON.stringify(call.execution_id)},"tool_call_id":${
      JSON.stringify(call.id)
    }`;
    const body = "json" in outcome
      ? `{${ids},"result":${outcome.json}}`
      : `{${ids},"error":${JSON.stringify(outcome.error)}}`;
    for (let attempt = 0;; attempt++) {
      try {
        // Ask for 409 on a result nobody waits for (the reference silently answers 200).
        const response = await this.#post("/tool-results", body, signal, {
          ...affinity,
          prefer: "handling=strict",
        });
        // 404/409: the execution or the call is over (ended, timed out); nothing waits for us.
        // 413: the result was too large; the server told the program, which goes on.
        if (response.ok || [404, 409, 413].includes(response.status)) {
          await response.body?.cancel();
          return;
        }
        if (response.status < 500 || attempt >= 2) throw await ProgtcHttpError.from(response);
        await response.body?.cancel();
      } catch (error) {
        if (signal.aborted || error instanceof ProgtcHttpError || attempt >= 2) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }

  /** POSTs `body` as JSON; a string is taken as JSON text already. */
  #post(
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const url = `${this.#baseUrl}${path}`;
    return this.#fetch(url, {
      method: "POST",
      headers: { ...this.#headers, ...headers, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...(signal ? { signal } : {}),
    }).catch((error) => {
      // An abort is the caller's; anything else is the network's: say where we tried to go.
      if (signal?.aborted || (error as Error)?.name === "AbortError") throw error;
      throw new ProgtcConnectionError(url, error);
    });
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function parseFrame(data: string): ExecuteCodeFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    throw new ProgtcProtocolError(`The server sent a frame that is not JSON: ${data.slice(0, 80)}`);
  }
  if (isRecord(frame)) {
    switch (frame.type) {
      case "tool_call":
        if (
          typeof frame.id === "string" && typeof frame.execution_id === "string" &&
          typeof frame.tool_name === "string" && Array.isArray(frame.args) &&
          isRecord(frame.kwargs)
        ) return frame as unknown as ToolCall;
        break;
      case "stdout":
      case "stderr":
        if (typeof frame.data === "string") return frame as unknown as OutputFrame;
        break;
      case "success":
      case "syntax_error":
      case "runtime_error":
      case "timeout_error":
        if (typeof frame.stdout === "string" && typeof frame.stderr === "string") {
          return frame as unknown as ExecuteCodeResult;
        }
        break;
    }
  }
  throw new ProgtcProtocolError(`The server sent an unknown frame: ${data.slice(0, 80)}`);
}

function parseStepResult(value: unknown): ExecuteCodeStepResult {
  if (isRecord(value)) {
    if (value.type === "tool_call") {
      if (
        typeof value.state === "string" && Array.isArray(value.tool_calls) &&
        value.tool_calls.every((call) => {
          try {
            return parseFrame(JSON.stringify(call)).type === "tool_call";
          } catch {
            return false;
          }
        })
      ) return value as unknown as ExecuteCodeStepResult;
    } else if (
      ["success", "syntax_error", "runtime_error", "timeout_error", "determinism_error"].includes(
        String(value.type),
      ) && typeof value.stdout === "string" && typeof value.stderr === "string"
    ) return value as unknown as ExecuteCodeStepResult;
  }
  throw new ProgtcProtocolError(
    `The server sent an unknown step answer: ${JSON.stringify(value).slice(0, 80)}`,
  );
}

/**
 * A `cookie` header with the cookies an `/execute-code` response set (`name=value` of each
 * `Set-Cookie`), after any the client was given; none when it set none. Browsers hide
 * `Set-Cookie` and send cookies themselves.
 */
function affinityHeaders(
  response: Headers,
  headers: Record<string, string>,
): Record<string, string> {
  const set = typeof response.getSetCookie === "function" ? response.getSetCookie() : [];
  const cookies = set.map((line) => line.split(";", 1)[0]!.trim()).filter((c) => c.includes("="));
  if (cookies.length === 0) return {};
  const given = Object.entries(headers).find(([name]) => name.toLowerCase() === "cookie")?.[1];
  return { cookie: [given, ...cookies].filter(Boolean).join("; ") };
}
