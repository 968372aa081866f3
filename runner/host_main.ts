/**
 * The main realm of a sandbox host process: it runs one program at a time, each in a fresh
 * worker, and never runs a program itself. Started by the server with no permissions (Python:
 * read access to the Pyodide files).
 *
 * Invariants:
 * - The first line on stdin is the host key. Only this realm reads it, and only this realm's
 *   lines start with it; no worker ever sees it.
 * - At most one worker owns the pipe: the one that has been told `go`. It reads its run message
 *   and the program's results from stdin and writes the program's lines to stdout itself.
 * - `ready` is written only after the previous worker was terminated and the next one is warm
 *   and owns the pipe. The server does not believe it: it checks the process for threads the
 *   old worker left before it sends the next program.
 * - The next worker is made while a program runs (or after it, per kind), off the request path.
 * - This realm talks to each worker over a private `MessagePort` handed over before the program
 *   exists; messages the program posts itself on the worker's global scope are ignored.
 * - The process ends within a second of its server's end, however the server ended.
 *
 * @module
 */
import type { HostMessage } from "./sandbox_protocol.ts";

/** What a worker says to its host over its private port. */
export type WorkerSignal =
  /** Loaded and warmed up: it can be told `go`. */
  | { type: "warm" }
  /** It could not start. */
  | { type: "failed"; error: string }
  /** It read its run message: the program runs. */
  | { type: "started" }
  /** The program ended and the worker has no read of the pipe left: terminate it. */
  | { type: "done" }
  /** The worker's pipe failed (the program closed its stdio handles): end the program. */
  | { type: "broken"; error: string };

/** The init message a host posts to each new worker (on its global scope, before any program). */
export interface WorkerInit {
  type: "init";
  /** The worker's private port to the host. */
  port: MessagePort;
  /** Data of the sandbox kind (Python: the compiled module and the snapshot). */
  [extra: string]: unknown;
}

/** How a host makes the workers of its sandbox kind. */
export interface WorkerKind {
  /** Starts one worker (its code not yet told anything). */
  create(): Worker;
  /** Extra fields of the init message and what to transfer with them, fresh for each worker. */
  init(): { data: Record<string, unknown>; transfer: Transferable[] };
  /**
   * When to make the next worker: as soon as the current one owns the pipe (`"ahead"`: a host
   * always holds a warm spare, so it is ready again right after a program), when the current
   * program starts (`"on_start"`), or once it ended (`"on_done"`: one worker's memory per host).
   */
  precreate: "ahead" | "on_start" | "on_done";
}

interface Slot {
  /** Creation number: Deno names the worker's thread `worker-<number>`. */
  number: number;
  worker: Worker;
  port: MessagePort;
  warm: Promise<void>;
}

const encoder = new TextEncoder();

/** Reads the 32-hex-digit host key and its newline from stdin, byte-exact. */
function readKey(): string {
  const bytes = new Uint8Array(33);
  let filled = 0;
  while (filled < bytes.length) {
    const n = Deno.stdin.readSync(bytes.subarray(filled));
    if (n === null) Deno.exit(1);
    filled += n;
  }
  const line = new TextDecoder().decode(bytes);
  if (!/^[0-9a-f]{32}\n$/.test(line)) Deno.exit(1);
  return line.slice(0, 32);
}

/** Runs a host for workers of `kind` until the server closes its stdin or kills it. */
export function runHost(kind: WorkerKind): void {
  const key = readKey();
  // If the server dies without killing this process (SIGKILL), the kernel gives it to another
  // parent, and a ready host never reads its closed stdin: it must notice and end itself.
  const server = Deno.ppid;
  setInterval(() => {
    if (Deno.ppid !== server) Deno.exit(0);
  }, 1000);
  const say = (message: HostMessage) => {
    const bytes = encoder.encode(`${key}${JSON.stringify(message)}\n`);
    let offset = 0;
    try {
      while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
    } catch {
      Deno.exit(0); // The server is gone.
    }
  };
  const fail = (error: string): never => {
    say({ type: "failed", error });
    Deno.exit(1);
  };

  let current: Slot | undefined;
  let next: Slot | undefined;
  let created = 0;

  const spawn = (): Slot => {
    const worker = kind.create();
    const channel = new MessageChannel();
    const warm = Promise.withResolvers<void>();
    const slot: Slot = { number: ++created, worker, port: channel.port1, warm: warm.promise };
    // The program can post on its global scope; only the private port counts.
    worker.onmessage = () => {};
    worker.onmessageerror = () => {};
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      if (slot === current) say({ type: "worker_error", error: event.message });
      else fail(`a worker failed before it ran a program: ${event.message}`);
      Deno.exit(1);
    };
    channel.port1.onmessage = (event: MessageEvent<WorkerSignal>) => {
      const signal = event.data;
      switch (signal?.type) {
        case "warm":
          return warm.resolve();
        case "failed":
          return fail(String(signal.error));
        case "started":
          if (slot === current && kind.precreate === "on_start") next ??= spawn();
          return;
        case "done":
          if (slot === current) promote();
          return;
        case "broken":
          if (slot !== current) return;
          say({ type: "worker_error", error: `its pipe failed (${String(signal.error)})` });
          Deno.exit(1);
      }
    };
    const { data, transfer } = kind.init();
    const init: WorkerInit = { ...data, type: "init", port: channel.port2 };
    worker.postMessage(init, [channel.port2, ...transfer]);
    return slot;
  };

  const promote = () => {
    if (current) {
      current.worker.terminate();
      current.port.close();
    }
    const slot = next ?? spawn();
    current = slot;
    next = undefined;
    slot.warm.then(() => {
      if (current !== slot) return;
      slot.port.postMessage({ type: "go" });
      // A spare made now is announced first: the server then allows its thread.
      const spare = kind.precreate === "ahead" && next === undefined ? created + 1 : next?.number;
      say({ type: "ready", workers: spare === undefined ? [slot.number] : [slot.number, spare] });
      if (kind.precreate === "ahead") next ??= spawn();
    });
  };

  promote();
}
