/**
 * Adversarial Python programs against CPU and memory: loops (busy, catching every exception,
 * C-level) are stopped at the timeout and their worker's thread is gone; huge allocations,
 * a growing list and a memory bomb in the JS realm are contained. Each asserts that the server
 * still serves.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { assertProcessGone, assertStillServes, type TestServer } from "./_attempt.ts";
import { sharedServerTests } from "../_helpers.ts";
import { assertRaised, attempts, run } from "./_python_attempt.ts";

/** The memory attempts, on one server of their own: a Python heap of 256 MiB (the default is
 * 512), so that a growing list fills it sooner. */
const oneMemoryServer = sharedServerTests(
  "python: memory attempts on one server with a 256 MiB Python heap",
  { pythonPoolSize: 1, poolSize: 0, codeExecutionTimeoutMs: 20_000, pythonMemoryMb: 256 },
);

// ─── CPU and memory ─────────────────────────────────────────────────────────────────────────

/** Runs a program that prints its sandbox's pid and then never ends; asserts the kill. */
async function assertStoppedAtTimeout(server: TestServer, loop: string): Promise<void> {
  const started = performance.now();
  const result = await run(server, `import js\nprint(js.Deno.pid, flush=True)\n${loop}\n`);
  const ms = performance.now() - started;
  strictEqual(result.type, "timeout_error", JSON.stringify(result));
  ok(result.stderr.includes("did not finish within 1 s"), result.stderr);
  ok(ms < 2500, `the timeout took ${ms} ms`);
  const pid = Number(result.stdout.split("\n")[0]);
  ok(Number.isSafeInteger(pid) && pid > 0, `no pid in ${result.stdout}`);
  await assertProcessGone(pid);
}

/** The loops that must be stopped at the timeout, on one server of their own (1 s timeout). */
const oneTimeoutServer = sharedServerTests(
  "python: loops on one server with a timeout of 1 s",
  { pythonPoolSize: 2, poolSize: 0, codeExecutionTimeoutMs: 1000 },
);

oneTimeoutServer(
  "python: busy loops, also one that catches every exception, are killed",
  async (server) => {
    await assertStoppedAtTimeout(server, "while True:\n    pass");
    await assertStoppedAtTimeout(
      server,
      "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    );
    await assertStillServes(server, "python");
  },
);

oneTimeoutServer(
  "python: C-level loops (sum over a huge range, a regex catastrophe) are killed",
  async (server) => {
    await assertStoppedAtTimeout(server, "print(sum(range(10**12)))");
    await assertStoppedAtTimeout(server, `import re\nre.match(r"(a+)+$", "a" * 64 + "b")`);
    await assertStillServes(server, "python");
  },
);

oneMemoryServer("python: huge allocations fail inside the program", async (server) => {
  const result = await run(
    server,
    attempts(["bytearray(10**10)"]) + `b = bytearray(1_500_000_000)\nprint("never")\n`,
  );
  assertRaised(result, "MemoryError");
  strictEqual(result.stdout, "OverflowError: cannot fit 'int' into an index-sized integer\n");
  await assertStillServes(server, "python");
});

oneMemoryServer(
  "python: a growing list hits MemoryError at the memory cap, and is catchable",
  async (server) => {
    const result = await run(
      server,
      `
chunks = []
try:
    while True:
        chunks.append(bytearray(10**7))
except MemoryError:
    size = len(chunks) * 10
    chunks = None
    print("MemoryError after", "at least 100" if size >= 100 else size, "MB")
`,
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: "MemoryError after at least 100 MB\n",
      stderr: "",
    });
    await assertStillServes(server, "python");
  },
);

oneMemoryServer("python: a memory bomb in the JS realm kills only its sandbox", async (server) => {
  const result = await run(
    server,
    `import js\njs.eval("const a = []; while (true) a.push(new Array(1e6).fill(1.5));")\n`,
  );
  strictEqual(result.type, "runtime_error", JSON.stringify(result));
  ok(result.stderr.includes("exceeded its memory limit"), result.stderr);
  await assertStillServes(server, "python");
});
