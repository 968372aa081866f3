/**
 * The limits of one execution: one type for every part of the server that applies them, made
 * once from the server's options.
 *
 * @module
 */
import type { ProgramLimits } from "../runner/runner.ts";
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
    maxToolResultBytes: config.maxToolResultBytes,
    pythonMemoryBytes: config.pythonMemoryMb * 2 ** 20,
  };
}
