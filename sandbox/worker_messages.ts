/**
 * The messages inside a sandbox host: between a worker and the host's realm (over the worker's
 * private port), and between the host's realm and its relay (the worker that holds the socket).
 *
 * Runs in the untrusted sandbox host: imports nothing.
 *
 * @module
 */

// ─── worker ↔ host realm (private port) ──────────────────────────────────────────────────────

/** What a worker says to its host over its private port. */
export type WorkerSignal =
  /** Loaded and warmed up: it can be given a program. */
  | { type: "warm" }
  /** It could not start. */
  | { type: "failed"; error: string }
  /** One protocol line of its program (a JSON text, no newline), for the server. */
  | { type: "line"; line: string }
  /** Its program ended (its end line was sent): terminate it. */
  | { type: "done" }
  /**
   * What its realm holds now, in bytes: the V8 heap, ArrayBuffers and Blobs, and the wasm
   * memories it can see; every {@linkcode MEMORY_REPORT_MS} while its program grows or has
   * just been answered, up to every 10 s while it waits.
   */
  | { type: "memory"; bytes: number };

/** How often a worker reports its memory while its program grows or runs, in ms. */
export const MEMORY_REPORT_MS = 100;

/** What the host realm says to a worker over its private port. */
export type HostToWorker =
  /** The program, the first line it gets; then the server's lines for it, as they come. */
  { type: "line"; line: string };

// ─── host realm ↔ relay (the worker that holds the socket) ───────────────────────────────────

/** What the host realm tells its relay first. */
export interface RelayInit {
  type: "init";
  /** The host's key, said first on the socket. */
  key: string;
  /** The server's socket. */
  path: string;
  /** The longest line the server reads for a program. */
  maxLineLength: number;
  /** Warm workers to keep ahead of demand. */
  spares: number;
  /** The most one program may hold, in bytes: a worker that reports more is terminated. */
  maxProgramBytes: number;
  /** Programs the host runs at once (1: the strict mode). */
  maxPrograms: number;
}

/** What the relay asks of the host realm. */
export type RelayRequest =
  | { type: "spawn" }
  | { type: "terminate"; number: number }
  /** The connection ended (the server is gone) or failed: end the process (a worker cannot). */
  | { type: "exit"; code: number };

/** What the host realm tells its relay. */
export type RelayEvent =
  /** A worker was made; `port` is its private channel (the worker holds the other end). */
  | { type: "made"; number: number; port: MessagePort }
  /** A worker died of an error its own realm did not catch. */
  | { type: "error"; number: number; message: string }
  /** A worker was terminated. */
  | { type: "terminated"; number: number }
  /** The host cannot go on. */
  | { type: "failed"; error: string };

/** The init message a host posts to each new worker (on its global scope, before any program). */
export interface WorkerInit {
  type: "init";
  /** The worker's private port to the host. */
  port: MessagePort;
  /** Data of the sandbox kind (Python: the compiled module and the snapshot). */
  [extra: string]: unknown;
}
