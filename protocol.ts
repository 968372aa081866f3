/**
 * The wire protocol between a progtc client and a progtc server, compatible with the Python
 * package `progtc` (0.1.17 and 0.2.0). Field names follow the reference (snake_case); every
 * extension of ours is opt-in through a request field the Python client never sends.
 *
 * Types and constants only, no dependencies and no Deno APIs: the runtime-neutral client (and
 * its npm package) is built from it. The server's schemas of these bodies are in
 * `server/schemas.ts`.
 *
 * @module
 */

/** A JSON value, as carried by tool arguments and results. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A language a program can be written in. */
export type Language = "typescript" | "javascript" | "python";

/** The languages a program can be written in. */
export const LANGUAGES: readonly ["typescript", "javascript", "python"] = [
  "typescript",
  "javascript",
  "python",
];

/** The longest tool name the server accepts. */
export const MAX_TOOL_NAME_LENGTH = 128;

// Python identifiers (PEP 3131), without NFKC normalisation: a name that only matches after
// normalisation is refused, which is the safe side.
const IDENTIFIER = /^[\p{XID_Start}_][\p{XID_Continue}]*$/u;

/**
 * Why a client module name (progtc 0.2.0 `modules`) is refused, or `undefined`: it must be a
 * Python identifier, and not `tools`. (Messages as the reference's.)
 *
 * @example
 * ```ts
 * import { moduleNameProblem } from "./protocol.ts";
 * console.assert(moduleNameProblem("helpers") === undefined);
 * console.assert(moduleNameProblem("tools") === "Module name 'tools' is reserved.");
 * ```
 */
export function moduleNameProblem(name: string): string | undefined {
  if (!IDENTIFIER.test(name)) return `Module name '${name}' is not a valid identifier.`;
  if (name === "tools") return `Module name 'tools' is reserved.`;
  return undefined;
}

// ─── client → server ────────────────────────────────────────────────────────────────────────

/** Body of `POST /execute-code`. */
export interface ExecuteCodeRequest {
  code: string;
  tool_names: string[];
  /** Extension: the program's language. Default: the server's `--language`. */
  language?: Language | undefined;
  /** Extension: send `stdout`/`stderr` frames while the program runs. */
  stream_output?: boolean | undefined;
  /**
   * Extension: put the program's return value in the terminal frame as `value` (TypeScript and
   * JavaScript: its `export default`; Python: its last expression).
   */
  return_value?: boolean | undefined;
  /** progtc 0.2.0: extra Python modules shipped with the code (name → source). */
  modules?: Record<string, string> | undefined;
  /**
   * Extension: run in a session (also the `X-Progtc-Session` header; the body wins). `"new"`
   * opens one, `"new:<id>"` opens one under an id the client chose, `<id>` runs in that one:
   * what its earlier programs defined at their top level is there. An id is 16 to 128 letters,
   * digits, `_` or `-` (the server makes 32 hex characters).
   */
  session?: string | undefined;
}

/** Body of `POST /tool-results`. */
export interface ToolResultRequest {
  execution_id: string;
  tool_call_id: string;
  result?: unknown;
  /** Extension: the tool failed on the client; the program sees an exception with this message. */
  error?: string | undefined;
}

/**
 * How the step API checks replayed tool calls (progtc 0.2.0): `strict` compares each call's
 * tool name and arguments, `order_only` only the tool names.
 */
export type DeterminismMode = "strict" | "order_only";

/** The determinism modes of the step API. */
export const DETERMINISM_MODES: readonly ["strict", "order_only"] = ["strict", "order_only"];

/** A failed tool in a step request (extension): its position in the previous batch. */
export interface StepToolError {
  /** Position of the failed call in the previous step's `tool_calls`. */
  index: number;
  /** The error message the program sees. */
  message: string;
}

/** Body of `POST /execute-code-step`. */
export interface ExecuteCodeStepRequest {
  code: string;
  tool_names: string[];
  state?: string | null | undefined;
  tool_results?: unknown[] | null | undefined;
  determinism?: DeterminismMode | undefined;
  modules?: Record<string, string> | undefined;
  /** Extension: the program's language. */
  language?: Language | undefined;
  /** Extension: entries of `tool_results` that are failures, not values. */
  tool_errors?: StepToolError[] | undefined;
  /** Extension: put the program's return value in the final answer as `value`. */
  return_value?: boolean | undefined;
  /**
   * Extension, on a program's first step: open a session (`"new"`, `"new:<id>"`; also the
   * `X-Progtc-Session` header). A session's next program sends `session_state` instead.
   */
  session?: string | undefined;
  /**
   * Extension, on a program's first step: run in the session this state records (the
   * `session_state` of its last program's answer). Any server that shares the key can run it.
   */
  session_state?: string | undefined;
}

// ─── server → client ────────────────────────────────────────────────────────────────────────

/** A tool call frame: the program waits for its result. */
export interface ToolCall {
  /** Always `"tool_call"`. */
  type: "tool_call";
  /** 32 lowercase hex characters, unique per call. */
  id: string;
  /** The execution the call belongs to (send it back with the result). */
  execution_id: string;
  /** Which tool the program called. */
  tool_name: string;
  /** Positional arguments. */
  args: JsonValue[];
  /** Keyword arguments (Python `f(x=1)`; TypeScript `f.invoke(args, kwargs)`). */
  kwargs: Record<string, JsonValue>;
  /**
   * progtc 0.2.0: where in the program the call is, the same on every run of the same program:
   * the path of the task (Python) or of the chain of tool calls (TypeScript) that made it.
   */
  frame_id?: number[];
  /** progtc 0.2.0: the call's position in its frame. `${frame_id.join(".")}#${call_index}` keys it. */
  call_index?: number;
}

/** How a program ended. */
export interface ExecuteCodeResult {
  /**
   * `success`; `syntax_error` (the program does not compile); `runtime_error` (it threw, exited
   * non-zero, ran out of memory or was stopped); `timeout_error` (it ran out of time).
   */
  type: "success" | "syntax_error" | "runtime_error" | "timeout_error";
  /** Everything the program printed to stdout (kept also on errors and timeouts). */
  stdout: string;
  /** Everything it printed to stderr, then the error or traceback, if any. */
  stderr: string;
  /**
   * With `return_value: true`, on `success`: the program's return value (its `export default`,
   * or in Python its last expression), when it has one.
   */
  value?: JsonValue;
  /** Extension: the session the program ran in (also the `X-Progtc-Session` response header). */
  session_id?: string;
  /**
   * Extension: the program ended its session (it crossed a limit, or its sandbox stopped):
   * what it defined is gone, and the session's next program is refused (`session_ended`).
   */
  session_ended?: boolean;
  /**
   * Extension, step API: the session's state after this program, to send with the session's
   * next program (absent when the program ended the session).
   */
  session_state?: string;
}

/** Extension frame (`stream_output: true`): text the program printed. */
export interface OutputFrame {
  /** Which stream the text went to. */
  type: "stdout" | "stderr";
  /** The text. */
  data: string;
}

/** Any frame of `POST /execute-code`. */
export type ExecuteCodeFrame = ToolCall | OutputFrame | ExecuteCodeResult;

/** A step ended because the program needs these tool calls answered. */
export interface StepToolCalls {
  /** Always `"tool_call"`. */
  type: "tool_call";
  /** The calls to run, in the order their results must come back. */
  tool_calls: StepToolCall[];
  /** Opaque; send it back with the results. */
  state: string;
}

/** A tool call in a step answer, with its call key (progtc 0.2.0). */
export interface StepToolCall extends ToolCall {
  /** Where in the program the call is: see {@linkcode ToolCall.frame_id}. */
  frame_id: number[];
  /** The call's position in its frame. */
  call_index: number;
}

/** The program replayed differently from the recorded calls. */
export interface DeterminismError {
  /** Always `"determinism_error"`. */
  type: "determinism_error";
  /** What the replayed program printed. */
  stdout: string;
  /** Its stderr, then which call differed. */
  stderr: string;
  /** Extension: the session the program ran in; such a program ends its session. */
  session_id?: string;
  /** Extension: always `true` in a session. */
  session_ended?: boolean;
}

/** Answer of `POST /execute-code-step`. */
export type ExecuteCodeStepResult = StepToolCalls | ExecuteCodeResult | DeterminismError;

/** An `application/problem+json` error body; `code` is stable and machine-readable. */
export interface Problem {
  /** A URI naming the problem type. */
  type: string;
  /** The HTTP reason phrase. */
  title: string;
  /** The HTTP status. */
  status: number;
  /** Stable, machine-readable code. */
  code: ProblemCode;
  /** What went wrong, for people. */
  detail?: string;
}

/** Stable error codes of problem responses. */
export type ProblemCode =
  | "unauthorized"
  | "malformed_json"
  | "invalid_body"
  | "unsupported_media_type"
  | "body_too_large"
  | "body_incomplete"
  | "body_timeout"
  | "program_too_large"
  | "not_found"
  | "method_not_allowed"
  | "unknown_execution"
  | "unknown_tool_call"
  | "tool_call_not_pending"
  | "result_too_large"
  | "over_capacity"
  | "sandbox_unavailable"
  | "shutting_down"
  | "not_ready"
  | "state_malformed"
  | "state_signature"
  | "state_expired"
  | "state_too_large"
  | "unsupported_language"
  | "unsupported_modules"
  | "invalid_session"
  | "unknown_session"
  | "session_exists"
  | "session_busy"
  | "session_language"
  | "session_expired"
  | "session_evicted"
  | "session_ended"
  | "too_many_sessions"
  | "session_rebuild_failed"
  | "internal";

/** Returns the id format the reference uses: 32 lowercase hex characters.
 *
 * @example
 * ```ts
 * import { newId } from "./protocol.ts";
 * console.assert(/^[0-9a-f]{32}$/.test(newId()));
 * ```
 */
export function newId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
