/**
 * The seam between an execution and the runner: the {@linkcode Sandbox} one execution holds,
 * and what it tells its execution. `runner/host.ts` implements it with a program slot of a
 * sandbox host process; unit tests implement it with a fake.
 *
 * @module
 */
import type { SandboxKind, ServerMessage } from "../sandbox/messages.ts";
import type { ProgramMessage, SandboxToolCall } from "../sandbox/program_messages.ts";

/**
 * A tool call as the server received it: `chars` is its line's length in UTF-16 units, what
 * the program's worker counts against the bound of its calls not answered yet.
 */
export interface ReceivedToolCall extends SandboxToolCall {
  chars: number;
}

/** A program's message as the server received it. */
export type ReceivedMessage = Exclude<ProgramMessage, SandboxToolCall> | ReceivedToolCall;

/** How a sandbox process ended (every program it ran at the time hears it). */
export interface SandboxExit {
  type: "exited";
  code: number;
  signal: Deno.Signal | null;
  /** The last few KiB the process wrote to stderr: for the server's log. */
  stderr: string;
  /**
   * The process ran out of memory: the kernel killed it at its cgroup's limit, V8 trapped, or
   * (a host of one program only) the runtime said it could not allocate and aborted.
   */
  outOfMemory: boolean;
  /** Programs the process was running when it ended. */
  programs: number;
}

/** The program broke the protocol; its worker is stopped. */
export interface SandboxViolation {
  type: "violation";
  detail: string;
}

/** The program's worker died of an error its own realm did not catch. */
export interface SandboxWorkerError {
  type: "worker_error";
  error: string;
}

/**
 * The program held too much memory: more than its cap (its host stopped its worker), or the
 * most when the server's sandboxes together held more than the budget (the server evicted it).
 */
export interface SandboxOutOfMemory {
  type: "out_of_memory";
  /** The error the program ends with, one line. */
  error: string;
}

/**
 * A worker took the program: it runs from now on (before, it waited for a worker of its host).
 * Not sent for a session's next program, whose worker is its last program's.
 */
export interface SandboxStarted {
  type: "started";
}

/** What a sandbox tells its execution. */
export type SandboxEvent =
  | SandboxStarted
  | ReceivedMessage
  | SandboxViolation
  | SandboxWorkerError
  | SandboxOutOfMemory
  | SandboxExit;

/** One execution's sandbox: a slot of a host process. */
export interface Sandbox {
  readonly kind: SandboxKind;
  /** The process that runs the program (for logs and tests). */
  readonly pid: number;
  /** How many programs this process started before this one. */
  readonly runs: number;
  /** A worker took the program (or a session's last program): it runs, it does not wait. */
  readonly started: boolean;
  /** Receives every event from now on (events that came before are replayed at once). */
  listen(listener: (event: SandboxEvent) => void): void;
  /** Sends one message to the program; dropped once the program is gone. */
  send(message: ServerMessage): void;
  /**
   * The execution is over; nothing is sent to it any more. A program still running is stopped
   * (its worker terminated).
   */
  finish(): void;
  /**
   * A session's program ended by itself (its end message came): keeps its worker and realm for
   * the session's next program, which is sent to this same sandbox; events go to the next
   * listener. False when it cannot (the program did not end by itself, or was finished).
   */
  keep(): boolean;
  /**
   * Resolves once this execution no longer holds its slot: its worker's thread is verifiably
   * gone, or the process is.
   */
  readonly released: Promise<void>;
  /** What the program holds, in bytes, as its worker last reported (0 before a report). */
  readonly memoryBytes: number;
  /** Ends the program because memory is short: its execution hears `out_of_memory`. */
  evict(error: string): void;
}
