/**
 * The main realm of a sandbox host process: it makes and terminates the workers the host's
 * programs run in, each fresh, several at once; its relay (`relay.ts`), a worker of its own,
 * holds the connection to the server and carries every line. Neither ever runs a program, and
 * no program reaches either.
 *
 * Runs in the untrusted sandbox host, started by the server with no permission but the one to
 * open its socket, which only its relay gets (Python: and reading the Pyodide files, which its
 * workers get). Imports sandbox files only.
 *
 * Invariants:
 * - The key is read from stdin (the server then closes it) and handed to the relay only; the
 *   relay is made before anything else, so its thread is the host's first worker.
 * - Making a worker holds this realm's thread for milliseconds; no line waits on it (they go
 *   through the relay, on its own thread, straight to each worker's private port).
 * - This realm gives up every permission the relay needed once the relay has them.
 * - The process ends within a second of its server's end, however the server ended.
 *
 * @module
 */
import type { RelayEvent, RelayInit, RelayRequest, WorkerInit } from "./worker_messages.ts";
import { relaySource } from "./relay.ts";

/** How a host makes the workers of its sandbox kind. */
export interface WorkerKind {
  /** The program worker's source (run from a blob: the worker may not read files). */
  source: string;
  /** The program workers' permissions. */
  permissions: Deno.PermissionOptions;
  /**
   * What a worker's init message carries, made for that worker, and what of it is handed over
   * rather than copied: a large buffer is transferred, so the worker can free it once used
   * (a copied message lives on, serialised, until the worker's next collection).
   */
  init: () => { message: Record<string, unknown>; transfer: Transferable[] };
  /**
   * Takes what a worker posts on its global scope (a program can post there too: anything
   * may come). Without it, such messages are dropped.
   */
  posted?: (data: unknown) => void;
  /** Warm workers kept ahead of demand. */
  spares: number;
}

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

/** Runs a host for workers of `kind` until its server closes the socket or kills it. */
export async function runHost(kind: WorkerKind): Promise<void> {
  // If the server dies without killing this process (SIGKILL), the kernel gives it to another
  // parent: end with it. Its pid comes from the command line (it may be gone already).
  const server = Number(Deno.args[2]);
  const orphaned = () => Deno.ppid !== server;
  if (orphaned()) Deno.exit(0);
  setInterval(() => {
    if (orphaned()) Deno.exit(0);
  }, 1000);
  const key = readKey();
  const path = Deno.args[0] ?? "";
  const relay = new Worker(
    URL.createObjectURL(new Blob([relaySource()], { type: "text/javascript" })),
    {
      type: "module",
      name: "relay",
      deno: { permissions: { net: [`unix:${path}`], read: [path], write: [path] } },
    } as WorkerOptions,
  );
  const tell = (message: RelayEvent, transfer: Transferable[] = []) =>
    relay.postMessage(message, transfer);
  const source = URL.createObjectURL(new Blob([kind.source], { type: "text/javascript" }));
  const workers = new Map<number, Worker>();
  let made = 0;

  const spawn = () => {
    const number = ++made;
    let worker: Worker;
    try {
      worker = new Worker(source, {
        type: "module",
        name: "program",
        deno: { permissions: kind.permissions },
      } as WorkerOptions);
    } catch (error) {
      return tell({ type: "failed", error: `a worker could not start: ${error}` });
    }
    workers.set(number, worker);
    const channel = new MessageChannel();
    // A program can post on its global scope: its lines count only on the private port.
    worker.onmessage = (event: MessageEvent) => kind.posted?.(event.data);
    worker.onmessageerror = () => {};
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      tell({ type: "error", number, message: event.message });
    };
    const init = kind.init();
    const message: WorkerInit = { ...init.message, type: "init", port: channel.port2 };
    worker.postMessage(message, [...init.transfer, channel.port2]);
    tell({ type: "made", number, port: channel.port1 }, [channel.port1]);
  };

  relay.onmessage = (event: MessageEvent<RelayRequest>) => {
    const request = event.data;
    if (request?.type === "spawn") return spawn();
    if (request?.type === "exit") Deno.exit(request.code);
    if (request?.type === "terminate") {
      workers.get(request.number)?.terminate();
      workers.delete(request.number);
      tell({ type: "terminated", number: request.number });
    }
  };
  relay.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    Deno.exit(1);
  };
  const init: RelayInit = {
    type: "init",
    key,
    path,
    // The longest line the server reads for a program, from its command line.
    maxLineLength: Number(Deno.args[1]) || Infinity,
    spares: kind.spares,
    maxProgramBytes: Number(Deno.args[3]) || Infinity,
    maxPrograms: Number(Deno.args[4]) || Infinity,
  };
  relay.postMessage(init);
  // The relay has its permissions: nothing else of this process may open the socket.
  await Deno.permissions.revoke({ name: "net" });
  await Deno.permissions.revoke({ name: "write" });
  await Deno.permissions.revoke({ name: "read", path });
}
