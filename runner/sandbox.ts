/**
 * The seam between an execution and the runner: the {@linkcode Sandbox} one execution holds,
 * and what it tells its execution. `runner/host.ts` implements it with a sandbox host process;
 * unit tests implement it with a fake.
 *
 * @module
 */
import type { ProgramMessage, SandboxKind, ServerMessage } from "./sandbox_protocol.ts";

/** How a sandbox process ended. */
export interface SandboxExit {
  type: "exited";
  code: number;
  signal: Deno.Signal | null;
  /** The last few KiB the process wrote to stderr (the runtime's own fatal messages). */
  stderr: string;
  /** The process ran out of memory (heap cap or data rlimit). */
  outOfMemory: boolean;
}

/** The sandbox broke the protocol and was killed. */
export interface SandboxViolation {
  type: "violation";
  detail: string;
}

/** The program's worker died of an error its own realm did not catch; the host was killed. */
export interface SandboxWorkerError {
  type: "worker_error";
  error: string;
}

/** What a sandbox tells its execution. */
export type SandboxEvent = ProgramMessage | SandboxViolation | SandboxWorkerError | SandboxExit;

/** One execution's sandbox. */
export interface Sandbox {
  readonly kind: SandboxKind;
  /** The process that runs the program (for logs and tests). */
  readonly pid: number;
  /** How many programs this process ran before this one. */
  readonly runs: number;
  /** Receives every event from now on (events that came before are replayed at once). */
  listen(listener: (event: SandboxEvent) => void): void;
  /** Sends one message to the program; dropped once the program is gone. */
  send(message: ServerMessage): void;
  /**
   * The execution is over; nothing is sent to it any more. With `reusable`, the program ended
   * by itself within its limits and its process may run another program once it has checked
   * itself; otherwise the process is killed.
   */
  finish(reusable: boolean): void;
  /** Resolves once this execution no longer holds the process (it is idle again, or dead). */
  readonly released: Promise<void>;
}
