/**
 * Messages between the server and one sandbox process, one JSON object per line: the server
 * writes to the sandbox's stdin, the sandbox writes to its stdout. The sandbox is untrusted:
 * the server checks every line with {@linkcode parseSandboxMessage} and kills the sandbox on
 * the first line that is not a valid message.
 *
 * The same messages cross the boundary between the sandbox's own realm and the worker where
 * the user's code runs; the realm relays them.
 *
 * No npm imports here: the sandbox runs with `--no-npm` and imports this file for its types.
 *
 * @module
 */

/** Which sandbox runtime runs a program. */
export type SandboxKind = "deno" | "python";

// ─── server → sandbox ───────────────────────────────────────────────────────────────────────

/** Start the program. Sent once, to a ready sandbox. */
export interface RunMessage {
  type: "run";
  code: string;
  language: "typescript" | "javascript" | "python";
  toolNames: string[];
  /** Source ranges `[start, end)` of `"tools"` module specifiers, found by the server. */
  toolsSpecifiers: SpecifierRange[];
  /** Bytes of output the sandbox forwards before it only counts. */
  maxOutputBytes: number;
  /** Longest JSON text of a tool call's arguments. */
  maxToolArgsBytes: number;
  /** Send `idle` when every running path of the program waits on a tool (the step API). */
  reportIdle: boolean;
  /** Python client modules (name → source), progtc 0.2.0. */
  modules?: Record<string, string>;
}

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
  value: unknown;
}

/** A tool call failed: the program sees an exception of this name with this message. */
export interface ToolErrorMessage {
  type: "tool_error";
  id: number;
  name: "ToolError" | "TimeoutError";
  message: string;
}

/** Anything the server sends to a sandbox. */
export type ServerMessage = RunMessage | ToolResultMessage | ToolErrorMessage;

// ─── sandbox → server ───────────────────────────────────────────────────────────────────────

/** The sandbox is warm and waits for its `run` message. */
export interface ReadyMessage {
  type: "ready";
}

/** The program calls a tool. `id` is the sandbox's own counter; the server maps it. */
export interface SandboxToolCall {
  type: "tool_call";
  id: number;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Text the program printed. */
export interface OutputMessage {
  type: "output";
  stream: "stdout" | "stderr";
  data: string;
}

/** Every tool call issued so far is waiting, and nothing else can run until one is answered. */
export interface IdleMessage {
  type: "idle";
}

/** The program ended. `error` is the formatted error or traceback for stderr. */
export type EndMessage =
  | { type: "success" }
  | { type: "syntax_error"; error: string }
  | { type: "runtime_error"; error: string }
  | { type: "determinism_error"; error: string }
  | { type: "exit"; code: number };

/** Anything a sandbox sends to the server. */
export type SandboxMessage =
  | ReadyMessage
  | SandboxToolCall
  | OutputMessage
  | IdleMessage
  | EndMessage;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses one line from a sandbox. Returns `undefined` for anything that is not a well-formed
 * message: the caller treats that as a protocol violation.
 *
 * @example
 * ```ts
 * import { parseSandboxMessage } from "./sandbox_protocol.ts";
 * console.assert(parseSandboxMessage('{"type":"ready"}')?.type === "ready");
 * console.assert(parseSandboxMessage("hello") === undefined);
 * ```
 */
export function parseSandboxMessage(line: string): SandboxMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(m)) return undefined;
  switch (m.type) {
    case "ready":
    case "idle":
    case "success":
      return { type: m.type };
    case "tool_call":
      return Number.isSafeInteger(m.id) && typeof m.name === "string" && Array.isArray(m.args) &&
          isRecord(m.kwargs)
        ? { type: "tool_call", id: m.id as number, name: m.name, args: m.args, kwargs: m.kwargs }
        : undefined;
    case "output":
      return (m.stream === "stdout" || m.stream === "stderr") && typeof m.data === "string"
        ? { type: "output", stream: m.stream, data: m.data }
        : undefined;
    case "syntax_error":
    case "runtime_error":
    case "determinism_error":
      return typeof m.error === "string" ? { type: m.type, error: m.error } : undefined;
    case "exit":
      return Number.isSafeInteger(m.code) ? { type: "exit", code: m.code as number } : undefined;
    default:
      return undefined;
  }
}
