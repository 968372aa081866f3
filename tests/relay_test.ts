/**
 * The relay (`sandbox/relay.ts`) alone: the test is its host realm (it answers `spawn` with a
 * made worker, whose port it holds) and its server (a unix socket). A host of one program makes
 * its workers before a program starts and none while it runs: at its data rlimit, a worker
 * made beside a program that took all the room could not start and would take the process
 * down (`resources_test.ts`' ArrayBuffer bomb, strict mode). A host of several keeps its spares
 * ahead at once.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { relaySource } from "../sandbox/relay.ts";
import { readLines } from "../sandbox/lines.ts";
import type { RelayInit } from "../sandbox/worker_messages.ts";

/** What the relay did, in order: `spawn`, `terminate <n>`, and the kinds of its lines. */
async function drive(maxPrograms: number, script: (relay: Relay) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "progtc-relay-" });
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  const worker = new Worker(
    URL.createObjectURL(new Blob([relaySource()], { type: "text/javascript" })),
    // Permissions of its own, as its host gives it: revoking them must not reach this process.
    {
      type: "module",
      deno: { permissions: { net: [`unix:${path}`], read: [path], write: [path] } },
    } as WorkerOptions,
  );
  const relay = new Relay(worker);
  const init: RelayInit = {
    type: "init",
    key: "key",
    path,
    maxLineLength: 1 << 20,
    spares: 2,
    maxProgramBytes: Infinity,
    maxPrograms,
  };
  worker.postMessage(init);
  const conn = await listener.accept();
  relay.connect(conn);
  try {
    await script(relay);
  } finally {
    worker.terminate();
    conn.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
  return relay.events;
}

class Relay {
  events: string[] = [];
  #ports = new Map<number, MessagePort>();
  #made = 0;
  #waiters: (() => void)[] = [];
  #conn?: Deno.Conn;

  constructor(worker: Worker) {
    worker.onmessage = (event) => {
      const request = event.data;
      if (request.type === "spawn") {
        this.#log("spawn");
        // Made a while later (a worker's isolate takes ~10 ms to make): what waits for it shows.
        const number = ++this.#made + 1;
        const { port1, port2 } = new MessageChannel();
        this.#ports.set(number, port2);
        setTimeout(() => {
          this.#log("made");
          worker.postMessage({ type: "made", number, port: port1 }, [port1]);
        }, MAKE_MS);
      } else if (request.type === "terminate") {
        this.#log(`terminate ${request.number}`);
        worker.postMessage({ type: "terminated", number: request.number });
      }
    };
  }

  connect(conn: Deno.Conn) {
    this.#conn = conn;
    (async () => {
      for await (const line of readLines(conn.readable)) {
        if (line === "key") continue;
        const message = JSON.parse(line.slice(line.indexOf(" ") + 1));
        this.#log(message.type);
        // The server acknowledges each worker; each warms up at once.
        if (message.type === "worker") {
          this.send(0, { type: "ack", number: message.number });
          this.#ports.get(message.number)!.postMessage({ type: "warm" });
        }
      }
    })().catch(() => {});
  }

  send(slot: number, message: unknown) {
    this.#conn!.write(new TextEncoder().encode(`${slot} ${JSON.stringify(message)}\n`));
  }

  /** Ends the program on worker `number`, as its worker does. */
  done(number: number) {
    this.#ports.get(number)!.postMessage({ type: "done" });
  }

  /** Resolves once `what` happened `times` times in all. */
  until(what: string, times = 1): Promise<void> {
    const met = () => this.events.filter((e) => e === what).length >= times;
    if (met()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(() => met() && resolve()));
  }

  #log(event: string) {
    this.events.push(event);
    for (const waiter of this.#waiters) waiter();
  }
}

const run = { type: "run" };
const MAKE_MS = 150;

Deno.test("a relay of one program makes its spares before a program starts, and none while it runs", async () => {
  const events = await drive(1, async (relay) => {
    await relay.until("ready");
    relay.send(1, run);
    await relay.until("started");
    await new Promise((resolve) => setTimeout(resolve, 100));
    relay.done(2);
    await relay.until("gone");
    relay.send(2, run);
    await relay.until("started", 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
  // Two spares at start: the first run starts on one at once (the other is the spare a host of
  // one program keeps beside it); its end makes nothing; the next run: a worker asked for and
  // made, then the program started on a warm one.
  deepStrictEqual(events.filter((e) => e !== "worker" && e !== "ready"), [
    "spawn",
    "spawn",
    "made",
    "made",
    "started",
    "terminate 2",
    "gone",
    "spawn",
    "made",
    "started",
  ]);
});

Deno.test("a relay of several programs keeps its spares ahead while they run", async () => {
  const events = await drive(4, async (relay) => {
    await relay.until("ready");
    await relay.until("worker", 2);
    relay.send(1, run);
    await relay.until("started");
    await relay.until("spawn", 3);
  });
  // The program started at once, on a warm spare; the next spare was asked for beside it.
  const started = events.indexOf("started");
  ok(started !== -1, events.join(", "));
  // Its next spare is asked for beside it: made (150 ms later) only after it started.
  strictEqual(events.slice(0, started).filter((e) => e === "made").length, 2, events.join(", "));
  strictEqual(events.filter((e) => e === "spawn").length, 3, events.join(", "));
});
