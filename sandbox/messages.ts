/**
 * The messages between the server and a sandbox host, on one socket that only the host's own
 * realm holds: what the server sends to a program's slot and to the host, what the host says of
 * itself; and the isolates a host runs (its spares). What a program's worker sends on its slot
 * is in `program_messages.ts`; what is said inside the host, between the workers that run its
 * programs (a private `MessagePort` each), its realm and its relay, in `worker_messages.ts`.
 *
 * Runs in the untrusted sandbox host (and is read by the server for its types and constants):
 * imports nothing.
 *
 * On the socket, every line is `<slot> <JSON>`: slot 0 is the host itself, any other slot one
 * program the server started on it (the server numbers them). The host realm writes a
 * program's lines with that program's slot, whatever the program wrote: a program cannot speak
 * for another one, nor for the host.
 *
 * @module
 */

/** Which sandbox runtime runs a program. */
export type SandboxKind = "deno" | "python";

// ─── server → host ───────────────────────────────────────────────────────────────────────────

/**
 * Start a program in a fresh worker (slot: the program's); in a session, every program after
 * the first runs in the worker of the first.
 */
export interface RunMessage {
  type: "run";
  code: string;
  language: "typescript" | "javascript" | "python";
  toolNames: string[];
  /** Source ranges `[start, end)` of `"tools"` module specifiers, found by the server. */
  toolsSpecifiers: SpecifierRange[];
  /** The program may import `node:` modules: lock Node's `process` before it runs. */
  nodeModules: boolean;
  /** Bytes of output (as JSON text) the worker forwards before it only counts. */
  maxOutputBytes: number;
  /**
   * The server's limit on a call's arguments and on the return value, in bytes of JSON: for
   * messages only. The server measures and enforces it; the worker keeps to `maxLineLength`.
   */
  maxToolArgsBytes: number;
  /**
   * The longest line the server reads for a program, in UTF-16 units: a longer one is a
   * violation. A call or an end that would not fit is over the limit anyway.
   */
  maxLineLength: number;
  /**
   * The most the program's tool calls sent and not answered yet may take, in characters of
   * their lines: a call past it waits in the worker until answers make room. The server counts
   * the same on what it receives; more is a violation.
   */
  maxPendingCallChars: number;
  /** Send `idle` when every running path of the program waits on a tool (the step API). */
  reportIdle: boolean;
  /** Send the program's return value with `success` (its `export default`; Python: its last expression). */
  returnValue: boolean;
  /** Python: the largest the program's heap (Pyodide's wasm memory) may grow, in bytes. */
  maxMemoryBytes?: number;
  /** Python client modules (name → source), progtc 0.2.0. */
  modules?: Record<string, string>;
  /**
   * The program is one of a session's: its top-level definitions are kept in its realm for the
   * next, and after its end its worker waits for the next `run` instead of being terminated.
   */
  session?: boolean;
}

/** A run message as an execution makes it. */
export type RunRequest = RunMessage;

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
  /** The value (the server may splice its JSON text in without parsing it). */
  value: unknown;
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
 * the program cannot reach `idle` with part of its batch answered. Its line carries the items'
 * ids first (`{"type":"tool_results","ids":[…],"items":[…]}`), as an answer's line carries its
 * id right after its type: a worker's channel sees which calls are answered without reading
 * the values.
 */
export interface ToolResultsMessage {
  type: "tool_results";
  items: (ToolResultMessage | ToolErrorMessage)[];
}

/** The server is done with the program (it ended, or must end now): terminate its worker. */
export interface StopMessage {
  type: "stop";
}

/** What the server sends to one program's slot. */
export type ServerMessage =
  | RunMessage
  | ToolResultMessage
  | ToolErrorMessage
  | ToolResultsMessage
  | StopMessage;

/** A worker the host announced may now be given a program (its thread is known). */
export interface HostAck {
  type: "ack";
  number: number;
}

/** What the server sends to the host itself (slot 0). */
export type HostCommand = HostAck;

// ─── host → server ───────────────────────────────────────────────────────────────────────────

/**
 * The host made a worker; Deno names its thread `worker-<number>`. It gives it a program only
 * once the server acknowledged it: the server has then found that thread, before any program
 * could rename it.
 */
export interface HostWorker {
  type: "worker";
  number: number;
}

/**
 * The host has a warm worker the server acknowledged: it takes programs from now on (said
 * once; a program that finds no warm worker later waits for one).
 */
export interface HostReady {
  type: "ready";
}

/** The program of `slot` runs in worker `number`. */
export interface HostStarted {
  type: "started";
  slot: number;
  number: number;
}

/**
 * The worker of `slot` was terminated (its program ended, or the server stopped it). The server
 * believes it once the worker's thread is gone from the process.
 */
export interface HostGone {
  type: "gone";
  slot: number;
  number: number;
}

/**
 * The program of `slot` sent a line the protocol does not allow (a newline in it, or longer
 * than the server reads): its worker was terminated.
 */
export interface HostViolation {
  type: "violation";
  slot: number;
  detail: string;
}

/**
 * The program of `slot` held more than its cap (`bytes`, as its worker last reported): its
 * worker was terminated.
 */
export interface HostOutOfMemory {
  type: "out_of_memory";
  slot: number;
  bytes: number;
}

/** What running programs hold, as their workers last reported: those that changed by 1 MiB or more (every quarter second). */
export interface HostMemory {
  type: "memory";
  /** `[slot, bytes]` of each program running. */
  programs: [number, number][];
}

/** The worker of `slot` died of an error its own realm did not catch (it was terminated). */
export interface HostWorkerError {
  type: "worker_error";
  slot: number;
  error: string;
}

/** The host cannot make workers; it exits after saying so. */
export interface HostFailed {
  type: "failed";
  error: string;
}

/** Anything a host's own realm says (slot 0). */
export type HostMessage =
  | HostWorker
  | HostReady
  | HostStarted
  | HostGone
  | HostWorkerError
  | HostViolation
  | HostOutOfMemory
  | HostMemory
  | HostFailed;

/**
 * Warm workers a host keeps ahead of its programs, by kind: a run that finds none waits for one
 * to be made (~10 ms TypeScript; a Python worker restores Pyodide, ~150 ms). A host that is
 * nearly full keeps fewer (see `relay.ts`): a full one, one.
 */
export const HOST_SPARES = { deno: 2, python: 2 } as const;

/**
 * The most workers without a program a host of up to `programs` programs has while a program
 * runs: a host of one program keeps one spare beside it; a larger one has its spares while a
 * program's ended worker may still be going (a full host keeps one, and makes the second as
 * one of its programs ends).
 */
export function hostSpares(kind: SandboxKind, programs: number): number {
  return programs === 1 ? 1 : HOST_SPARES[kind];
}

/**
 * The V8 isolates of a host running up to `programs` programs: its realm, its relay, its
 * programs' workers and its spares. Each reserves ~520 MiB of address space before it runs
 * anything, which the data rlimit counts.
 */
export function hostIsolates(kind: SandboxKind, programs: number): number {
  return programs + 2 + hostSpares(kind, programs);
}
