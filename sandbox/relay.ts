// deno-lint-ignore-file no-explicit-any
/**
 * The relay: the worker of a sandbox host that holds its connection to the server and carries
 * every line between the server and the host's programs. It asks the host's realm for workers
 * (making one holds its maker's thread for milliseconds, which must not delay any line), and
 * talks to each over a private port whose other end only that worker holds.
 *
 * Runs in the untrusted sandbox host, in a worker no program reaches, with the one permission of
 * opening the server's socket, which it gives up once connected. {@linkcode relayMain} is
 * serialised with `Function.prototype.toString` and started from a blob URL: it uses nothing
 * from its module's scope but what it is given: {@linkcode relaySource} is its source, with
 * `socketWriter` (`./socket_writer.ts`) as its writer. Imports types and that writer only.
 *
 * Invariants:
 * - Every line of a program is written under that program's slot, whatever it holds: a program
 *   speaks for itself only, and a line that breaks the protocol (a newline in it, longer than
 *   the server reads) ends only its own program.
 * - A worker gets a program only once the server acknowledged it (it found its thread). A
 *   session's worker gets its next programs under the same slot.
 * - A worker whose program ended (`done`), that the server stops, or that fails is terminated,
 *   and the server hears `gone` once it was.
 * - `spares` warm workers are kept ahead of demand, but no more than the host could give
 *   programs once one of its programs ends (a full host keeps one); a run that finds none waits
 *   for one. A host of one program makes none while its program runs: it makes them when a run
 *   arrives, and the run starts once they are made.
 * - A worker that reports holding more than `maxProgramBytes` is terminated, and the server
 *   hears `out_of_memory`; every quarter second it hears what changed of what each program holds.
 *
 * @module
 */
import type { HostMessage } from "./messages.ts";
import { socketWriter } from "./socket_writer.ts";
import type { RelayEvent, RelayInit, RelayRequest, WorkerSignal } from "./worker_messages.ts";

/** The relay worker's source: {@linkcode relayMain} given what it writes to its socket with. */
export function relaySource(): string {
  return `(${relayMain})(${socketWriter});`;
}

/** Entry point of the relay worker: waits for its init, connects, then carries lines. */
export function relayMain(writer: typeof socketWriter): void {
  const scope = globalThis as any;
  const toHost: (message: RelayRequest) => void = scope.postMessage.bind(scope);
  scope.onmessage = (event: MessageEvent<RelayInit>) => {
    if (event.data?.type !== "init") return;
    relay(event.data).catch(() => toHost({ type: "exit", code: 1 }));
  };

  interface Live {
    number: number;
    port: MessagePort;
    warm: boolean;
    acked: boolean;
    /** The program it runs, once given one. */
    slot?: number;
    /** What its realm held at its last report, in bytes. */
    bytes: number;
    /** What the server was last told it holds. */
    said: number;
  }

  async function relay(init: RelayInit): Promise<void> {
    const conn = await Deno.connect({ transport: "unix", path: init.path });
    // Nothing of this worker may open it again, nor any other socket or file.
    await Deno.permissions.revoke({ name: "net" });
    await Deno.permissions.revoke({ name: "write" });
    await Deno.permissions.revoke({ name: "read" });
    // The server is gone.
    const write = writer(conn, () => toHost({ type: "exit", code: 0 }));
    write(`${init.key}\n`);
    const say = (message: HostMessage) => write(`0 ${JSON.stringify(message)}\n`);

    const live = new Map<number, Live>();
    const bySlot = new Map<number, Live>();
    /** Runs that wait for a usable worker, in order. */
    const waiting: { slot: number; line: string }[] = [];
    /** Slots of the workers being terminated, by worker. */
    const ending = new Map<number, number>();
    /** Workers asked for and not made yet. */
    let asked = 0;
    // A host of one program makes workers only while no program runs: a program may take all the
    // room its data rlimit leaves, and a worker that cannot start then (no thread, no address
    // space for its isolate) takes the whole process down. So its spares are made when the next
    // run arrives (its last program's worker is gone by then: the server freed the slot), and the
    // run starts once they are made.
    const onePerHost = init.maxPrograms === 1;

    /**
     * Keeps `spares` workers with no program yet, but no more than the host could give programs
     * once one of its programs ends (a full host keeps one), and one for each waiting run.
     */
    const refill = () => {
      let spare = asked;
      let programs = 0;
      for (const worker of live.values()) {
        if (worker.slot === undefined) spare++;
        else programs++;
      }
      const coming = programs + waiting.length;
      const wanted = Math.max(0, Math.min(init.spares, init.maxPrograms - coming + 1)) +
        waiting.length;
      for (; spare < wanted; spare++, asked++) toHost({ type: "spawn" });
    };

    /** The server was told the host has a usable worker. */
    let ready = false;

    /** Gives waiting runs to usable workers, in order; says `ready` at the first usable one. */
    const serve = () => {
      if (!ready) {
        for (const worker of live.values()) ready ||= worker.warm && worker.acked;
        if (ready) say({ type: "ready" });
      }
      while (waiting.length > 0) {
        if (onePerHost && asked > 0) return;
        let worker: Live | undefined;
        for (const candidate of live.values()) {
          if (candidate.warm && candidate.acked && candidate.slot === undefined) {
            worker = candidate;
            break;
          }
        }
        if (!worker) return;
        const { slot, line } = waiting.shift()!;
        worker.slot = slot;
        bySlot.set(slot, worker);
        say({ type: "started", slot, number: worker.number });
        worker.port.postMessage({ type: "line", line });
      }
    };

    /** Terminates a worker; the server hears of it once the host realm did it. */
    const end = (worker: Live) => {
      worker.port.close();
      live.delete(worker.number);
      if (worker.slot !== undefined) {
        bySlot.delete(worker.slot);
        ending.set(worker.number, worker.slot);
      }
      toHost({ type: "terminate", number: worker.number });
      if (onePerHost && worker.slot !== undefined && waiting.length === 0) return;
      refill();
    };

    const onSignal = (worker: Live, signal: WorkerSignal) => {
      switch (signal?.type) {
        case "warm":
          worker.warm = true;
          return serve();
        case "failed":
          return say({ type: "failed", error: String(signal.error) });
        case "line": {
          // The program's own line, under its own slot; one line, within the bound.
          const line = signal.line;
          if (worker.slot === undefined || typeof line !== "string") return;
          if (line.includes("\n") || line.length > init.maxLineLength) {
            const detail = line.includes("\n")
              ? "a line with a newline"
              : `a line longer than ${init.maxLineLength} characters`;
            say({ type: "violation", slot: worker.slot, detail });
            return end(worker);
          }
          return write(`${worker.slot} ${line}\n`);
        }
        case "done":
          if (worker.slot !== undefined) end(worker);
          return;
        case "memory": {
          if (worker.slot === undefined || !(signal.bytes >= 0)) return;
          worker.bytes = signal.bytes;
          if (worker.bytes <= init.maxProgramBytes) return;
          say({ type: "out_of_memory", slot: worker.slot, bytes: worker.bytes });
          return end(worker);
        }
      }
    };

    scope.onmessage = (event: MessageEvent<RelayEvent>) => {
      const message = event.data;
      switch (message?.type) {
        case "made": {
          asked--;
          const worker: Live = {
            number: message.number,
            port: message.port,
            warm: false,
            acked: false,
            bytes: 0,
            said: 0,
          };
          live.set(worker.number, worker);
          worker.port.onmessage = (signal: MessageEvent<WorkerSignal>) =>
            onSignal(worker, signal.data);
          say({ type: "worker", number: worker.number });
          // A host of one program holds its run until its workers are made.
          if (onePerHost) serve();
          return;
        }
        case "error": {
          const worker = live.get(message.number);
          if (!worker) return;
          if (worker.slot === undefined) {
            return say({
              type: "failed",
              error: `a worker failed before it ran a program: ${message.message}`,
            });
          }
          say({ type: "worker_error", slot: worker.slot, error: message.message });
          return end(worker);
        }
        case "terminated": {
          // The slot is the server's to free, once it finds the worker's thread gone.
          const slot = ending.get(message.number);
          ending.delete(message.number);
          if (slot !== undefined) say({ type: "gone", slot, number: message.number });
          return;
        }
        case "failed":
          return say({ type: "failed", error: message.error });
      }
    };

    const onLine = (line: string) => {
      const space = line.indexOf(" ");
      const slot = Number(line.slice(0, space));
      const json = line.slice(space + 1);
      if (!(space > 0 && Number.isSafeInteger(slot) && slot >= 0)) return;
      if (slot === 0) {
        const message = JSON.parse(json);
        if (message?.type === "ack") {
          const worker = live.get(Number(message.number));
          if (worker) worker.acked = true;
          serve();
        }
        return;
      }
      const worker = bySlot.get(slot);
      if (json.startsWith('{"type":"run"')) {
        // A session's next program runs in the worker of its last.
        if (worker) return worker.port.postMessage({ type: "line", line: json });
        waiting.push({ slot, line: json });
        // Asked for first: a host of one program makes them before the run starts.
        refill();
        return serve();
      }
      if (json === '{"type":"stop"}') {
        if (worker) return end(worker);
        // Not started yet: it never will be.
        const index = waiting.findIndex((run) => run.slot === slot);
        if (index !== -1) waiting.splice(index, 1);
        return say({ type: "gone", slot, number: 0 });
      }
      worker?.port.postMessage({ type: "line", line: json });
    };

    // What each program holds, for the server's memory accounting: what changed by a MiB or
    // more since it was last said.
    setInterval(() => {
      const programs: [number, number][] = [];
      for (const worker of live.values()) {
        if (worker.slot === undefined || Math.abs(worker.bytes - worker.said) < 1 << 20) continue;
        worker.said = worker.bytes;
        programs.push([worker.slot, worker.bytes]);
      }
      if (programs.length > 0) say({ type: "memory", programs });
    }, 250);

    refill();
    // The server's lines (bounded by what it accepts in a request), each searched once.
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let pieces: string[] = [];
    try {
      for (;;) {
        const read = await conn.read(buffer);
        if (read === null) break;
        const text = decoder.decode(buffer.subarray(0, read), { stream: true });
        let start = 0;
        let end: number;
        while ((end = text.indexOf("\n", start)) !== -1) {
          pieces.push(text.slice(start, end));
          onLine(pieces.length === 1 ? pieces[0]! : pieces.join(""));
          pieces = [];
          start = end + 1;
        }
        if (start < text.length) pieces.push(text.slice(start));
      }
    } catch {
      // The connection broke.
    }
    toHost({ type: "exit", code: 0 });
  }
}
