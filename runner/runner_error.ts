/**
 * Why the runner could not give an execution a sandbox, as a code: the server maps each to one
 * problem (`server/admission.ts`), and names its own in logs.
 *
 * @module
 */

/**
 * - `pool_closed`: the server is shutting down;
 * - `acquire_timeout`: no slot freed and no host started within the wait;
 * - `spawn_failed`: a host could not start (the runtime is missing, broken, or too slow).
 */
export type RunnerErrorCode = "pool_closed" | "acquire_timeout" | "spawn_failed";

/** A sandbox could not be had. */
export class RunnerError extends Error {
  /** Why, as a code. */
  readonly code: RunnerErrorCode;

  /** An error with `code`, and what happened in `message` (for the server's log). */
  constructor(code: RunnerErrorCode, message: string) {
    super(message);
    this.name = "RunnerError";
    this.code = code;
  }
}
