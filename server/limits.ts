/**
 * The limits of one execution: one type for every part of the server that applies them, made
 * once from the server's options.
 *
 * @module
 */
import type { ProgramLimits } from "../runner/run_message.ts";
import { MAX_ERROR_BYTES } from "../sandbox/program_messages.ts";
import type { ResolvedOptions } from "./options.ts";

/** The limits of one execution. */
export interface Limits extends ProgramLimits {
  /** How long a tool call may take, in ms; `Infinity` in the step API (the client answers). */
  toolCallTimeoutMs: number;
  /** How long the program may run, in ms (per step in the step API). */
  executionTimeoutMs: number;
  /** Tool calls per execution; later calls fail inside the program. */
  maxToolCalls: number;
  /** Bytes of JSON per tool result; a larger result fails the call inside the program. */
  maxToolResultBytes: number;
}

/** The limits the server's options set. */
export function limitsOf(config: ResolvedOptions): Limits {
  return {
    toolCallTimeoutMs: config.toolCallTimeoutMs,
    executionTimeoutMs: config.codeExecutionTimeoutMs,
    maxOutputBytes: config.maxOutputBytes,
    maxToolCalls: config.maxToolCalls,
    maxToolArgsBytes: config.maxToolArgsBytes,
    maxLineLength: config.maxLineLength,
    maxPendingCallChars: maxPendingCallChars(config),
    maxToolResultBytes: config.maxToolResultBytes,
    pythonMemoryBytes: config.pythonMemoryMb * 2 ** 20,
  };
}

/**
 * What one program's tool calls sent and not answered yet may take, in characters (UTF-16 units)
 * of their lines, as its worker and the server count them: one step answer's worth and the
 * longest line. So a step's batch fills up to its own bound, and the server, not the worker,
 * fails the call that crosses it (recorded, so that a replay fails it too); past this a call
 * waits in its program's worker. A host holds at most this much of each program's calls for its
 * socket (in UTF-8, at most three bytes a character).
 *
 * @example
 * ```ts
 * import { maxPendingCallChars } from "./limits.ts";
 * const chars = maxPendingCallChars({ maxStepAnswerBytes: 16 << 20, maxLineLength: 1 << 20 });
 * console.assert(chars === 17 << 20);
 * ```
 */
export function maxPendingCallChars(
  config: Pick<ResolvedOptions, "maxStepAnswerBytes" | "maxLineLength">,
): number {
  return config.maxStepAnswerBytes + config.maxLineLength;
}

/**
 * The most a terminal frame can take, in bytes: the output kept (counted as it travels in the
 * frame), an error's text, the return value, and the frame's own fields. An event stream keeps
 * this much free for it.
 *
 * @example
 * ```ts
 * import { terminalFrameBytes } from "./limits.ts";
 * const bytes = terminalFrameBytes({ maxOutputBytes: 4 << 20, maxToolArgsBytes: 1 << 20 });
 * console.assert(bytes > 5 << 20 && bytes < 6 << 20);
 * ```
 */
export function terminalFrameBytes(
  limits: Pick<Limits, "maxOutputBytes" | "maxToolArgsBytes">,
): number {
  // The truncation marker and the frame's fields fit in 4 KiB.
  return limits.maxOutputBytes + MAX_ERROR_BYTES + limits.maxToolArgsBytes + 4096;
}
