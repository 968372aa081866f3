/**
 * A sandbox host that breaks the protocol on request, for `faults/host_faults_test.ts` and
 * `faults/program_faults_test.ts` (through `faults/_fake_server.ts`). The server starts
 * it through a stand-in for its Deno binary (a script that runs this module with the real
 * one), with the command line of a real host: it reads its key from stdin, connects to the
 * socket named by its second-to-last argument and speaks the host protocol, with real worker
 * threads (the server finds each in /proc before it gives it a program), until a program's
 * text names a fault (`FAULT:<name>`): then it does that.
 *
 * @module
 */

const [self = "", ...rest] = Deno.args;
// The host's arguments after its module: the socket, then numbers.
const socket = rest.find((arg) => arg.startsWith("/") && arg.endsWith("/hosts.sock"))!;

const key = new Uint8Array(33);
for (let filled = 0; filled < key.length;) {
  const n = Deno.stdin.readSync(key.subarray(filled));
  if (n === null) Deno.exit(1);
  filled += n;
}
// Like a real host's relay, its first worker is made before it connects.
const source = "data:text/javascript,onmessage = () => {};";
new Worker(source, { type: "module" });
const conn = await Deno.connect({ transport: "unix", path: socket });
const encoder = new TextEncoder();
const raw = (text: string) => conn.write(encoder.encode(text));
const say = (slot: number, message: unknown) => raw(`${slot} ${JSON.stringify(message)}\n`);
await conn.write(key);

// ─── workers: real threads, doing nothing ────────────────────────────────────────────────
const workers = new Map<number, Worker>();
let made = 0;
let spare: number | undefined;
const spawn = async () => {
  const number = ++made;
  workers.set(number, new Worker(source, { type: "module" }));
  await say(0, { type: "worker", number });
};
const acked = new Set<number>();
/** Slot → the worker that runs its program. */
const running = new Map<number, number>();
const gone = async (slot: number) => {
  const number = running.get(slot);
  if (number === undefined) return;
  running.delete(slot);
  workers.get(number)?.terminate();
  workers.delete(number);
  await say(0, { type: "gone", slot, number });
  await spawn();
};

// ─── faults ──────────────────────────────────────────────────────────────────────────────
const call = (id: number, args: unknown[], index: number) => ({
  type: "tool_call",
  id,
  name: "given",
  args,
  kwargs: {},
  frame: [0],
  index,
});
/** What Deno 2.9.6 wrote when a Blob's bytes could not be allocated, before it aborted. */
const ALLOCATION_FAILED = "memory allocation of 67108864 bytes failed\n" +
  "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
const FAULTS: Record<string, (slot: number) => Promise<unknown>> = {
  exit0: () => Deno.exit(0),
  exit3: () => {
    console.error(`fake runtime: giving up in ${self}`);
    Deno.exit(3);
  },
  abort: async () => {
    console.error(`fake runtime: fatal error in ${self}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    Deno.kill(Deno.pid, "SIGABRT");
  },
  // What Rust's allocation error handler writes before it aborts (a Blob past the data rlimit).
  alloc_abort: async () => {
    console.error(ALLOCATION_FAILED);
    await new Promise((resolve) => setTimeout(resolve, 20));
    Deno.kill(Deno.pid, "SIGABRT");
  },
  // The same line without Rust's note.
  alloc_abort_bare: async () => {
    console.error(ALLOCATION_FAILED.split("\n")[0]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    Deno.kill(Deno.pid, "SIGABRT");
  },
  abort_silent: async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    Deno.kill(Deno.pid, "SIGABRT");
  },
  // The line of an allocation that failed, written by a program that then ends well: the host's
  // next program is not the one it names.
  forge_alloc: async (slot) => {
    console.error(ALLOCATION_FAILED);
    await say(slot, { type: "output", stream: "stdout", data: `fake ok ${Deno.pid}\n` });
    await say(slot, { type: "success" });
    await gone(slot);
  },
  garbage: () => raw("not a protocol line\n"),
  host_forged: () => say(0, { type: "success" }),
  other_slot: (slot) => say(slot + 1000, { type: "success" }),
  no_thread: () => say(0, { type: "worker", number: 9999 }),
  long_line: (slot) => raw(`${slot} ${" ".repeat(5000)}`),
  broken_json: (slot) => raw(`${slot} {"type":"output","stream":"stdout"\n`),
  forged_call: (slot) => say(slot, { ...call(1, [], 0), name: "not_given" }),
  // Calls sent without waiting for answers, past the bound of those not answered (the fake
  // server's: 8 KiB of step answer and its 4 KiB line, 12288 characters): the fourth crosses it.
  unanswered_flood: async (slot) => {
    for (let id = 1; id <= 4; id++) {
      await say(slot, { ...call(id, [1], id - 1), kwargs: { pad: "x".repeat(3900) } });
    }
  },
  reused_id: async (slot) => {
    await say(slot, call(1, [1], 0));
    await say(slot, call(1, [2], 1));
  },
  success_then_more: async (slot) => {
    await say(slot, { type: "output", stream: "stdout", data: "done\n" });
    await say(slot, { type: "success" });
    await say(slot, call(1, [], 0));
    await say(slot, { type: "output", stream: "stdout", data: "after the end\n" });
    await gone(slot);
  },
};

const run = async (slot: number, code: string) => {
  // A program the server sent before it acknowledged the worker waits for it, as in a real host.
  while (spare === undefined) await new Promise((resolve) => setTimeout(resolve, 2));
  const number = spare;
  spare = undefined;
  running.set(slot, number);
  await say(0, { type: "started", slot, number });
  const fault = /^FAULT:(\w+)/.exec(code)?.[1];
  if (fault !== undefined) return FAULTS[fault]!(slot);
  await say(slot, { type: "output", stream: "stdout", data: `fake ok ${Deno.pid}\n` });
  await say(slot, { type: "success" });
  await gone(slot);
};

const onLine = async (line: string) => {
  const space = line.indexOf(" ");
  const slot = Number(line.slice(0, space));
  const message = JSON.parse(line.slice(space + 1));
  if (slot === 0 && message.type === "ack") {
    if (acked.size === 0) await say(0, { type: "ready" });
    acked.add(message.number);
    spare = message.number;
  } else if (message.type === "run") void run(slot, message.code);
  else if (message.type === "stop") await gone(slot);
};

await spawn();
let buffer = "";
for await (const chunk of conn.readable) {
  buffer += new TextDecoder().decode(chunk);
  let end: number;
  while ((end = buffer.indexOf("\n")) !== -1) {
    await onLine(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
  }
}
Deno.exit(0);
