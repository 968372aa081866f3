/**
 * Messages between the server and one sandbox host process, one JSON text per line: the server
 * writes to the host's stdin, the host writes to its stdout. Every line the host writes starts
 * with a key that says who wrote it:
 *
 * - the host key (the first line the server writes, read only by the host's own realm, which no
 *   program can reach) starts {@linkcode HostMessage}s: the host's lifecycle;
 * - the execution key (sent in each {@linkcode RunMessage}, known to that program's worker)
 *   starts {@linkcode ProgramMessage}s of that execution only.
 *
 * The host is untrusted: the server checks every line with {@linkcode parseHostMessage} or
 * {@linkcode parseProgramMessage} and kills the host on the first line that is neither.
 *
 * No npm imports here: the sandbox runs with `--no-npm` and imports this file for its types.
 *
 * @module
 */

/** Which sandbox runtime runs a program. */
export type SandboxKind = "deno" | "python";

// ─── server → sandbox (stdin) ───────────────────────────────────────────────────────────────

/** Start the program. Read by the host's ready worker, which then owns the pipe. */
export interface RunMessage {
  type: "run";
  /** Starts every line of this execution; set by the host, not by the execution. */
  key: string;
  code: string;
  language: "typescript" | "javascript" | "python";
  toolNames: string[];
  /** Source ranges `[start, end)` of `"tools"` module specifiers, found by the server. */
  toolsSpecifiers: SpecifierRange[];
  /** The program may import `node:` modules: lock Node's `process` before it runs. */
  nodeModules: boolean;
  /** Bytes of output the sandbox forwards before it only counts. */
  maxOutputBytes: number;
  /**
   * The server's limit on a call's arguments and on the return value, in bytes of JSON: for
   * messages only. The server measures and enforces it; the sandbox keeps to `maxLineLength`.
   */
  maxToolArgsBytes: number;
  /**
   * The longest line the server reads from the host, in UTF-16 units with the key: a longer one
   * breaks the protocol. A call or an end that would not fit is over the limit anyway.
   */
  maxLineLength: number;
  /** Send `idle` when every running path of the program waits on a tool (the step API). */
  reportIdle: boolean;
  /**
   * Send the program's return value with `success` (its `export default`; Python: its last
   * expression).
   */
  returnValue: boolean;
  /** Python: the largest the program's heap (Pyodide's wasm memory) may grow, in bytes. */
  maxMemoryBytes?: number;
  /** Python client modules (name → source), progtc 0.2.0. */
  modules?: Record<string, string>;
}

/** A run message before the host gives it its key. */
export type RunRequest = Omit<RunMessage, "key">;

/** Where a `"tools"` specifier sits in the user's source. */
export interface SpecifierRange {
  start: number;
  end: number;
  /** True when the range includes the quotes (dynamic `import("tools")`). */
  quoted: boolean;
}

/** The value of a tool call. */
export interface ToolResultMessage {
  type: "tool_result";
  id: number;
  /** The value, or its JSON text (a large result the server never parsed on its main thread). */
  value: unknown;
}

/**
 * A JSON value kept as its text: a large tool result is parsed off the server's main thread and
 * forwarded to the sandbox (or into a state) as it came, never rebuilt on the main thread.
 */
export class JsonText {
  /** The JSON text. */
  readonly text: string;
  /** Its size in UTF-8 bytes. */
  readonly bytes: number;

  constructor(text: string, bytes: number) {
    this.text = text;
    this.bytes = bytes;
  }
}

/**
 * The JSON text of a value that may be a {@linkcode JsonText} (`undefined` is `null`).
 *
 * @example
 * ```ts
 * import { JsonText, jsonTextOf } from "./sandbox_protocol.ts";
 * console.assert(jsonTextOf(new JsonText("[1, 2]", 6)) === "[1, 2]");
 * console.assert(jsonTextOf({ a: 1 }) === '{"a":1}');
 * ```
 */
export function jsonTextOf(value: unknown): string {
  return value instanceof JsonText ? value.text : JSON.stringify(value) ?? "null";
}

/**
 * A tool call failed: the program sees an exception of this name with this message at the call.
 * `DeterminismError`: a replayed call differs from the recorded one (step API).
 */
export interface ToolErrorMessage {
  type: "tool_error";
  id: number;
  name: "ToolError" | "TimeoutError" | "DeterminismError";
  message: string;
}

/**
 * Several answers at once, settled before the program runs again: a step's whole batch, so that
 * the program cannot reach `idle` with part of its batch answered.
 */
export interface ToolResultsMessage {
  type: "tool_results";
  items: (ToolResultMessage | ToolErrorMessage)[];
}

/**
 * Sent after a program ended while it was still reading (it had calls nobody answered): it
 * completes that read, so that no read of the old program is left on the pipe.
 */
export interface ReleaseMessage {
  type: "release";
}

/** What an execution sends to its program. */
export type ServerMessage = RunRequest | ToolResultMessage | ToolErrorMessage | ToolResultsMessage;

/** Anything the server writes to a host after its key line. */
export type HostInput =
  | RunMessage
  | ToolResultMessage
  | ToolErrorMessage
  | ToolResultsMessage
  | ReleaseMessage;

/** The line (without key and newline) for a message to a host; values may be JSON texts. */
export function encodeHostInput(message: HostInput): string {
  switch (message.type) {
    case "tool_result":
      return `{"type":"tool_result","id":${message.id},"value":${jsonTextOf(message.value)}}`;
    case "tool_results":
      return `{"type":"tool_results","items":[${
        message.items.map((item) => encodeHostInput(item)).join(",")
      }]}`;
    default:
      return JSON.stringify(message);
  }
}

// ─── host realm → server (stdout, host key) ─────────────────────────────────────────────────

/**
 * The host is ready for a run: the previous program's worker (if any) was terminated, and a
 * fresh, warm worker reads the pipe. The server checks the process before it believes it.
 */
export interface HostReady {
  type: "ready";
  /**
   * The workers the host made that may exist now, by creation number (Deno names each
   * worker's thread `worker-<n>` in creation order): the one that owns the pipe first, then
   * its spare, if any (made at once or soon).
   */
  workers: number[];
}

/** A worker could not start (the host exits after saying so). */
export interface HostFailed {
  type: "failed";
  error: string;
}

/** The running program's worker died of an error its own realm did not catch. */
export interface HostWorkerError {
  type: "worker_error";
  error: string;
}

/** Anything a host's own realm says. */
export type HostMessage = HostReady | HostFailed | HostWorkerError;

// ─── program → server (stdout, execution key) ───────────────────────────────────────────────

/**
 * The program calls a tool. `id` is the sandbox's own counter; the server maps it. `frame` and
 * `index` key the call by the program's structure, the same on every run of the same program
 * however its results are timed: `frame` is the path of the task (Python) or of the chain of
 * tool calls (TypeScript) that made it, `index` the call's position in that frame.
 */
export interface SandboxToolCall {
  type: "tool_call";
  id: number;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  frame: number[];
  index: number;
}

/** The longest frame path a sandbox may send. */
export const MAX_FRAME_DEPTH = 64;

/** The runners cut output into pieces of at most this many UTF-16 units, one message each. */
export const OUTPUT_PIECE_UNITS = 16_384;

/** Bytes of an error's text (a traceback) the server keeps; the runners clip to it too. */
export const MAX_ERROR_BYTES = 65_536;

/**
 * The longest line a host may write, in characters: one call's arguments (at most
 * `maxToolArgsBytes` of JSON, embedded as is), or one output piece or error text JSON-escaped
 * (at most 6 characters per unit), with room for the rest of the message. A longer line is a
 * violation: the server never buffers more than this per host.
 *
 * @example
 * ```ts
 * import { maxLineLength } from "./sandbox_protocol.ts";
 * console.assert(maxLineLength(1024 * 1024) < 1.6 * 1024 * 1024);
 * ```
 */
export function maxLineLength(maxToolArgsBytes: number): number {
  // (A return value is bounded like a call's arguments.)
  return Math.max(maxToolArgsBytes, 6 * OUTPUT_PIECE_UNITS, 6 * MAX_ERROR_BYTES) + 64 * 1024;
}

/** Text the program printed. */
export interface OutputMessage {
  type: "output";
  stream: "stdout" | "stderr";
  data: string;
}

/**
 * Every tool call issued so far is waiting, and nothing else can run until one is answered:
 * `pending` are the calls the program waits on (the server ignores the report when one of them
 * was already answered, its answer on its way).
 */
export interface IdleMessage {
  type: "idle";
  pending: number[];
}

/**
 * The program ended. `error` is the formatted error or traceback for stderr. `reading` says the
 * worker still has a read of the pipe open (calls were left unanswered): the server sends
 * {@linkcode ReleaseMessage} to complete it.
 */
export type EndMessage =
  & (
    | { type: "success"; value?: unknown }
    | { type: "syntax_error"; error: string }
    | { type: "runtime_error"; error: string }
    | { type: "determinism_error"; error: string }
    | { type: "exit"; code: number }
  )
  & { reading?: boolean };

/** Anything a program's worker sends to the server. */
export type ProgramMessage = SandboxToolCall | OutputMessage | IdleMessage | EndMessage;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFrame = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length <= MAX_FRAME_DEPTH && v.every(isCount);

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses one host-keyed line (the key removed). Returns `undefined` for anything that is not a
 * well-formed host message: the caller treats that as a protocol violation.
 *
 * @example
 * ```ts
 * import { parseHostMessage } from "./sandbox_protocol.ts";
 * console.assert(parseHostMessage('{"type":"ready","workers":[1,2]}')?.type === "ready");
 * console.assert(parseHostMessage('{"type":"success"}') === undefined);
 * ```
 */
export function parseHostMessage(line: string): HostMessage | undefined {
  const m = parseObject(line);
  switch (m?.type) {
    case "ready":
      return Array.isArray(m.workers) && m.workers.length >= 1 && m.workers.length <= 2 &&
          m.workers.every((n) => Number.isSafeInteger(n) && n > 0)
        ? { type: "ready", workers: m.workers as number[] }
        : undefined;
    case "failed":
    case "worker_error":
      return typeof m.error === "string" ? { type: m.type, error: m.error } : undefined;
    default:
      return undefined;
  }
}

/**
 * Parses one execution-keyed line (the key removed). Returns `undefined` for anything that is
 * not a well-formed program message: the caller treats that as a protocol violation.
 *
 * @example
 * ```ts
 * import { parseProgramMessage } from "./sandbox_protocol.ts";
 * console.assert(parseProgramMessage('{"type":"success"}')?.type === "success");
 * console.assert(parseProgramMessage("hello") === undefined);
 * ```
 */
export function parseProgramMessage(line: string): ProgramMessage | undefined {
  const m = parseObject(line);
  if (m === undefined) return undefined;
  const reading = m.reading === true ? { reading: true } : {};
  switch (m.type) {
    case "idle":
      return Array.isArray(m.pending) && m.pending.every((id) => Number.isSafeInteger(id))
        ? { type: "idle", pending: m.pending as number[] }
        : undefined;
    case "success":
      return { type: "success", ...("value" in m ? { value: m.value } : {}), ...reading };
    case "tool_call":
      return Number.isSafeInteger(m.id) && typeof m.name === "string" && Array.isArray(m.args) &&
          isRecord(m.kwargs) && isFrame(m.frame) && isCount(m.index)
        ? {
          type: "tool_call",
          id: m.id as number,
          name: m.name,
          args: m.args,
          kwargs: m.kwargs,
          frame: m.frame,
          index: m.index,
        }
        : undefined;
    case "output":
      return (m.stream === "stdout" || m.stream === "stderr") && typeof m.data === "string"
        ? { type: "output", stream: m.stream, data: m.data }
        : undefined;
    case "syntax_error":
    case "runtime_error":
    case "determinism_error":
      return typeof m.error === "string" ? { type: m.type, error: m.error, ...reading } : undefined;
    case "exit":
      return Number.isSafeInteger(m.code)
        ? { type: "exit", code: m.code as number, ...reading }
        : undefined;
    default:
      return undefined;
  }
}

/** Whether a program message ends the program. */
export function isEndMessage(message: ProgramMessage): message is EndMessage {
  return message.type !== "tool_call" && message.type !== "output" && message.type !== "idle";
}
