/**
 * Clients that never read their event stream: each stream holds at most its bound, the terminal
 * frame included, all streams together at most the server's budget, and a stream still unread
 * some time after its execution ended is cut, which gives its memory back.
 *
 * Servers run in their own process, so that their resident memory is theirs alone. Programs
 * print control characters, which JSON escapes six-fold: output is counted as it travels, so a
 * 12 MiB output limit makes a 12 MiB terminal frame (before, 72 MiB). A connection's kernel
 * buffers take the first 4–5 MiB of it; the rest waits in the server.
 *
 * progtc-test: waits (6.8 s of CPU in 18.1 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { procStatusBytes, spawnServer } from "../_process.ts";
import { drain, unreadExecution } from "../../bench/_client.ts";
import { assertStillServes } from "./_attempt.ts";
import { terminalFrameBytes } from "../../server/limits.ts";

const MiB = 1024 * 1024;
const FLOOD = `console.log("\\u0001".repeat(4 * 1024 * 1024));`;
const BUDGET_MARKER =
  "\n[progtc: output truncated, the server holds too much output for its clients]\n";
const LIMIT_MARKER = `\n[progtc: output truncated, the limit is ${12 * MiB} bytes]\n`;
const OUTPUT = ["--max-output-bytes", String(12 * MiB), "--max-buffered-bytes", String(16 * MiB)];

const settledRss = async (pid: number) => {
  await new Promise((resolve) => setTimeout(resolve, 500));
  return procStatusBytes(pid, "VmRSS");
};

/** Starts `n` executions of `code` whose streams nobody reads; resolves once all ended. */
async function unreadExecutions(
  server: Awaited<ReturnType<typeof spawnServer>>,
  n: number,
  code: string,
): Promise<Deno.TcpConn[]> {
  const before = ended(server);
  const conns = await Promise.all(
    Array.from({ length: n }, () => unreadExecution({ url: server.url, apiKey: "test-key" }, code)),
  );
  const deadline = Date.now() + 60_000;
  while (ended(server) < before + n && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  strictEqual(ended(server), before + n, server.process.output);
  return conns;
}

const ended = (server: Awaited<ReturnType<typeof spawnServer>>) =>
  (server.process.output.match(/execution \S+ success/g) ?? []).length;

Deno.test("20 unread streams of 4 MiB of control characters hold what their terminal frames take", async () => {
  // Defaults: output is 4 MiB as it travels in the frame. Before, these frames were 24 MiB each
  // and 20 of them grew the server by over 500 MiB.
  await using server = await spawnServer(["--max-concurrent", "32"]);
  strictEqual((await server.client.executeCode({ code: FLOOD, tools: {} })).type, "success");
  const idle = await settledRss(server.pid);
  const conns = await unreadExecutions(server, 20, FLOOD);
  const grown = (await settledRss(server.pid)) - idle;
  // A terminal frame, and its text while it is encoded: twice terminalFrameBytes at most.
  const bound = 20 * 2 * terminalFrameBytes({ maxOutputBytes: 4 * MiB, maxToolArgsBytes: MiB });
  ok(
    grown < bound,
    `20 unread streams grew the server by ${grown / MiB} MiB (bound ${bound / MiB})`,
  );
  for (const conn of conns) conn.close();
  await assertStillServes(server);
});

/** Longer than opening the streams that fill the budget takes on a busy machine. */
const UNREAD_TIMEOUT_S = 6;
const budgetServer = () =>
  spawnServer([
    ...OUTPUT,
    "--max-held-bytes",
    String(40 * MiB),
    "--unread-stream-timeout",
    String(UNREAD_TIMEOUT_S),
  ]);

/** How many unread streams, opened one at a time, fill the budget here (the kernel's share of
 * each depends on the machine's TCP buffers): each is followed by a program whose output shows
 * whether the budget is full. */
async function streamsToFill(): Promise<number> {
  await using server = await budgetServer();
  const conns: Deno.TcpConn[] = [];
  try {
    while (conns.length < 12) {
      conns.push(...await unreadExecutions(server, 1, FLOOD));
      const probe = await server.client.executeCode({ code: FLOOD, tools: {} });
      if (probe.stdout.endsWith(BUDGET_MARKER)) return conns.length;
    }
    throw new Error("12 unread streams did not fill a budget of 40 MiB");
  } finally {
    for (const conn of conns) conn.close();
  }
}

Deno.test("unread streams fill the server's budget, are cut after the unread timeout, and give it back", async () => {
  // 12 MiB terminal frames: the kernel takes the first MiBs of each, the rest waits here, in a
  // budget of 40 MiB for all clients. Once it is full, a program's output is cut short, with a
  // marker that says why, instead of adding to it. (One stream more than a first server needed,
  // on a second one whose growth is then the streams' alone.)
  const n = (await streamsToFill()) + 1;
  await using server = await budgetServer();
  strictEqual((await server.client.executeCode({ code: FLOOD, tools: {} })).type, "success");
  const idle = await settledRss(server.pid);
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) conns.push(...await unreadExecutions(server, 1, FLOOD));
  // At once: the first stream is cut UNREAD_TIMEOUT_S after its execution ended unread, and
  // opening them all took over 3 s when the machine was busy.
  const squeezed = await server.client.executeCode({ code: FLOOD, tools: {} });
  strictEqual(squeezed.type, "success");
  ok(squeezed.stdout.endsWith(BUDGET_MARKER), `no budget marker: ${squeezed.stdout.slice(-80)}`);
  const held = (await settledRss(server.pid)) - idle;
  ok(held < n * 2 * 16 * MiB, `${n} unread streams grew the server by ${held / MiB} MiB`);
  // Past the unread timeout, the server has closed every unread connection (what the kernel
  // took is all there is to read), and what the streams held is given back.
  await new Promise((resolve) => setTimeout(resolve, (UNREAD_TIMEOUT_S + 1) * 1000));
  const ends = await Promise.all(conns.map((conn) => drain(conn, 5000)));
  // Only the last two streams' output can have been cut short by the budget: such a stream may
  // have fit in the kernel's buffers, been complete, and its idle connection waits for the idle
  // timeout.
  const cut = ends.filter((end) => end === "cut").length;
  deepStrictEqual(ends.filter((end) => end === "open"), [], `${ends}`);
  ok(n >= 3 && cut >= n - 2, `${cut} of ${n} were cut: ${ends}`);
  strictEqual(
    (server.process.output.match(/connections: the event stream was not read in time/g) ?? [])
      .length,
    cut,
  );
  for (const conn of conns) conn.close();
  const after = await server.client.executeCode({ code: FLOOD, tools: {} });
  strictEqual(after.type, "success");
  ok(after.stdout.endsWith(LIMIT_MARKER), `cut short after the cut: ${after.stdout.slice(-80)}`);
  await assertStillServes(server);
});
