/**
 * What a program's worker sends to the server, on its program's slot of the host's socket: its
 * tool calls, its output, that it is idle, its end; and the bounds of those lines (the longest
 * frame path, output pieces, error texts, the longest line).
 *
 * Runs in the untrusted sandbox host (and is read by the server for its types and constants):
 * imports nothing.
 *
 * @module
 */

/**
 * The program calls a tool. `id` is the worker's own counter; the server maps it. `frame` and
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

/** The longest frame path a worker may send. */
export const MAX_FRAME_DEPTH = 64;

/** The workers cut output into pieces of at most this many UTF-16 units, one message each. */
export const OUTPUT_PIECE_UNITS = 16_384;

/**
 * Bytes of an error's text (a traceback) the server keeps, counted as JSON text (escaped); the
 * workers clip to it too.
 */
export const MAX_ERROR_BYTES = 65_536;

/**
 * The longest line a program may have written for it, in characters: one call's arguments (at
 * most `maxToolArgsBytes` of JSON, embedded as is), or one output piece or error text
 * JSON-escaped (at most 6 characters per unit), with room for the rest of the message.
 *
 * @example
 * ```ts
 * import { maxLineLength } from "./program_messages.ts";
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

/** The program ended. `error` is the formatted error or traceback for stderr. */
export type EndMessage =
  | { type: "success"; value?: unknown }
  | { type: "syntax_error"; error: string }
  | { type: "runtime_error"; error: string }
  | { type: "determinism_error"; error: string }
  | { type: "exit"; code: number };

/** Anything a program's worker sends to the server. */
export type ProgramMessage = SandboxToolCall | OutputMessage | IdleMessage | EndMessage;
