/**
 * Resource attempts: a program that spins, blocks, floods or exhausts memory is stopped with
 * the right result, its sandbox process is gone, the output it printed first is kept, and
 * the server (this process) neither grows nor stops serving.
 *
 * Every program prints `Deno.pid` first, so the test can check that its process is gone.
 *
 * @module
 */
import { jsonLength } from "../../sandbox/text.ts";
import { ok, strictEqual } from "node:assert/strict";
import {
  assertProcessGone,
  assertStillServes,
  attempt,
  printedPid,
  rssMib,
  startOneHostServer,
  startServer,
} from "./_attempt.ts";
import { delay } from "../_helpers.ts";

/** {@linkcode rssMib} of `pid`, or undefined once it is gone. */
function rssIfRunning(pid: number): number | undefined {
  try {
    return rssMib(pid);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const MiB = 1024 * 1024;
const TIMEOUT = "TimeoutError: the program did not finish within 1 s\n";
const MEMORY_LIMIT = "RangeError: the program exceeded its memory limit and was stopped\n";
/** How much this process may grow while a sandbox misbehaves. */
const SERVER_GROWTH_LIMIT = 64 * MiB;
/** The longest the server's event loop may be blocked by one program's output. */
const STALL_LIMIT_MS = 250;

/** Runs a program that must hit the 1 s execution timeout. */
async function assertTimesOut(body: string): Promise<void> {
  await using server = await startServer({ codeExecutionTimeoutMs: 1000 });
  const { result, ms } = await attempt(
    server,
    `console.log(Deno.pid);
console.log("before");
${body}
console.log("after");`,
  );
  strictEqual(result.type, "timeout_error", JSON.stringify(result));
  strictEqual(result.stdout, `${printedPid(result)}\nbefore\n`);
  strictEqual(result.stderr, TIMEOUT);
  ok(ms >= 950 && ms < 3000, `the timeout took ${ms.toFixed(0)} ms`);
  await assertProcessGone(printedPid(result));
  await assertStillServes(server);
}

/** This process's resident set size, after a GC when one is available. */
function serverRss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** Asserts this process grew less than the limit since `before`. */
function assertServerDidNotGrow(before: number): void {
  const growth = serverRss() - before;
  ok(growth < SERVER_GROWTH_LIMIT, `the server grew by ${(growth / MiB).toFixed(0)} MiB`);
}

Deno.test("A CPU loop (while (true) {}) is killed at the execution timeout", async () => {
  await assertTimesOut(`while (true) {}`);
});

Deno.test("A microtask loop (for (;;) await null) is killed at the execution timeout", async () => {
  await assertTimesOut(`for (;;) await null;`);
});

Deno.test("A catastrophic regular expression (ReDoS) is killed at the execution timeout", async () => {
  await assertTimesOut(`/^(a+)+$/.test("a".repeat(64) + "b");`);
});

Deno.test("Atomics.wait() on the program's thread is killed at the execution timeout", async () => {
  await assertTimesOut(`Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);`);
});

Deno.test("A heap bomb is stopped at the memory limit and the server does not grow", async () => {
  await using server = await startServer();
  await assertStillServes(server);
  const before = serverRss();
  const { result } = await attempt(
    server,
    `console.log(Deno.pid);
console.log("before");
const keep = [];
for (let i = 0; ; i++) keep.push(new Array(1e6).fill({ i }), "x".repeat(1e4) + i);`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, `${printedPid(result)}\nbefore\n`);
  strictEqual(result.stderr, MEMORY_LIMIT);
  await assertProcessGone(printedPid(result));
  assertServerDidNotGrow(before);
  await assertStillServes(server);
});

Deno.test("An ArrayBuffer bomb (64 MiB buffers kept) is refused with a RangeError", async () => {
  await using server = await startOneHostServer();
  await assertStillServes(server);
  const before = serverRss();
  const { result } = await attempt(
    server,
    `console.log(Deno.pid);
console.log("before");
const keep = [];
for (;;) keep.push(new ArrayBuffer(64 * 1024 * 1024));`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, `${printedPid(result)}\nbefore\n`);
  // The data rlimit makes the allocation fail inside V8, which throws in the program.
  ok(
    result.stderr.startsWith(
      "RangeError: Array buffer allocation failed\n    at new ArrayBuffer (<anonymous>)\n" +
        "    at code.ts:4:",
    ),
    result.stderr,
  );
  // The program ended by itself: its worker is gone, its buffers with it. Its host runs the
  // next program if its memory was back under the host limit (512 MiB by default) when it
  // checked itself, and is retired otherwise.
  const pid = printedPid(result);
  const next = await attempt(server, `console.log(Deno.pid);`);
  // A host that ran the next program before it measured what the bomb left is retired after
  // that program: it may be gone by the time its memory is read.
  const rss = next.result.stdout === `${pid}\n` ? rssIfRunning(pid) : undefined;
  if (rss !== undefined) {
    ok(rss < 512, `the reused host holds ${rss} MiB`);
  } else {
    await assertProcessGone(pid);
  }
  assertServerDidNotGrow(before);
  await assertStillServes(server);
});

Deno.test("In the strict mode (a host per program) the data rlimit holds a caught ArrayBuffer bomb well under 1.5 GiB", async () => {
  // A bomb that never yields reports no memory: with programs beside it, only its host's cgroup
  // holds it (the bomb above); alone in its host, the host's data rlimit does.
  await using server = await startServer({ hostMaxPrograms: 1 });
  const { result } = await attempt(
    server,
    `const keep = [];
try {
  for (;;) keep.push(new Uint8Array(64 * 1024 * 1024).fill(1));
} catch (e) {
  console.log(e.name, keep.length * 64);
}`,
  );
  strictEqual(result.type, "success", result.stderr);
  const [name, mib] = result.stdout.trim().split(" ");
  strictEqual(name, "RangeError");
  ok(Number(mib) > 0 && Number(mib) < 1536, `the program kept ${mib} MiB`);
  await assertStillServes(server);
});

Deno.test("A Blob bomb is stopped at the memory limit", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(Deno.pid);
const keep = [];
for (;;) keep.push(new Blob([new Uint8Array(64 * 1024 * 1024)]));`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, MEMORY_LIMIT);
  await assertProcessGone(printedPid(result));
  await assertStillServes(server);
});

Deno.test("An output flood is truncated at the output limit and ends at the execution timeout", async () => {
  const limit = 64 * 1024;
  await using server = await startServer({ codeExecutionTimeoutMs: 1000, maxOutputBytes: limit });
  await assertStillServes(server);
  const before = serverRss();
  const { result } = await attempt(
    server,
    `console.log(Deno.pid);
for (let i = 0; ; i++) console.log(i, "x".repeat(100));`,
  );
  const marker = `\n[progtc: output truncated, the limit is ${limit} bytes]\n`;
  strictEqual(result.type, "timeout_error", `${result.type}: ${result.stderr}`);
  strictEqual(result.stderr, TIMEOUT);
  ok(result.stdout.endsWith(marker), `no truncation marker after ${result.stdout.length} chars`);
  // Output is counted as it travels in a frame: each newline is two bytes of JSON.
  const kept = jsonLength(result.stdout.slice(0, -marker.length));
  ok(kept > limit - 200 && kept <= limit, `${kept} bytes kept`);
  ok(result.stdout.includes(`\n0 ${"x".repeat(100)}\n1 `), "the first lines were lost");
  await assertProcessGone(printedPid(result));
  assertServerDidNotGrow(before);
  await assertStillServes(server);
});

Deno.test("A program printing 15 MiB lines does not stall the server's event loop", async () => {
  await using server = await startServer();
  await assertStillServes(server);
  let maxLag = 0;
  let running = true;
  const probe = (async () => {
    while (running) {
      const started = performance.now();
      await delay(5);
      maxLag = Math.max(maxLag, performance.now() - started - 5);
    }
  })();
  const { result } = await attempt(
    server,
    `const line = "x".repeat(15 * 1024 * 1024);
for (let i = 0; i < 2; i++) console.log(line);`,
  );
  running = false;
  await probe;
  strictEqual(result.type, "success", result.stderr);
  ok(result.stdout.endsWith("bytes]\n"), "the output was not truncated");
  ok(maxLag < STALL_LIMIT_MS, `the server's event loop stalled for ${maxLag.toFixed(0)} ms`);
  await assertStillServes(server);
});

Deno.test("Deep recursion ends with RangeError: Maximum call stack size exceeded", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `function down(n: number): number { return down(n + 1) + 1; }
console.log("before");
down(0);`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "before\n");
  ok(
    result.stderr.startsWith(
      "RangeError: Maximum call stack size exceeded\n    at down (code.ts:1:",
    ),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A 2**29-character string ends with RangeError: Invalid string length", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const s = "x".repeat(2 ** 29);\nconsole.log(s.length);`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "");
  ok(
    result.stderr.startsWith(
      "RangeError: Invalid string length\n    at String.repeat (<anonymous>)\n    at code.ts:1:",
    ),
    result.stderr,
  );
  await assertStillServes(server);
});
