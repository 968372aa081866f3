/**
 * Memory admission and the per-sandbox memory bound, tried: more sandboxes than the budget
 * (they wait, then 503; paused step executions are dropped first), a program over its
 * sandbox's cap (stopped by its cgroup, where the server can make cgroups), and a burst of
 * memory bombs at the server's full concurrency with default settings, watching the host's
 * available memory throughout.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { ProgtcHttpError } from "../../client/mod.ts";
import { MemoryCgroups } from "../../runner/cgroups.ts";
import { assertOnlyPoolHosts, heldExecution, startServer } from "../_helpers.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function memAvailable(): number {
  const kb = Deno.readTextFileSync("/proc/meminfo").match(/^MemAvailable:\s+(\d+) kB$/m)![1];
  return Number(kb) * 1024;
}

const cgroups = MemoryCgroups.detect();
const noCgroup = cgroups.bound.kind !== "cgroup";
cgroups.close();

Deno.test("over --memory-budget-mb a request waits, then 503; paused step executions give theirs first", async () => {
  // Room for two TypeScript sandboxes of 768 MiB.
  await using t = await startServer({ memoryBudgetMb: 1600, queueTimeoutMs: 500, poolSize: 2 });
  const [a, b] = [heldExecution(t.client), heldExecution(t.client)];
  await Promise.all([a.called, b.called]);
  strictEqual(t.server.app.memory.held, 2 * 768 * MiB);
  const refused = await t.client.executeCode({ code: "1", tools: {} }).catch((e) => e);
  ok(refused instanceof ProgtcHttpError, String(refused));
  strictEqual(refused.status, 503);
  strictEqual(refused.code, "over_capacity");
  match(refused.message, /Not enough memory for another sandbox: 1536 of 1600 MiB are held/);
  a.release();
  deepStrictEqual(await a.result, { type: "success", stdout: "released\n", stderr: "" });
  deepStrictEqual(await t.client.executeCode({ code: "console.log(1)", tools: {} }), {
    type: "success",
    stdout: "1\n",
    stderr: "",
  });
  b.release();
  await b.result;

  // Two paused step executions hold the whole budget; a new execution drops the oldest.
  const code = `import { t } from "tools"; console.log(await t());`;
  const first = await t.client.executeCodeStep({ code, toolNames: ["t"] });
  const second = await t.client.executeCodeStep({ code, toolNames: ["t"] });
  strictEqual(first.type, "tool_call");
  strictEqual(second.type, "tool_call");
  deepStrictEqual(await t.client.executeCode({ code: "console.log(2)", tools: {} }), {
    type: "success",
    stdout: "2\n",
    stderr: "",
  });
  // The dropped one replays from its state, the other resumes warm: both finish.
  for (const step of [first, second]) {
    if (step.type !== "tool_call") continue;
    const end = await t.client.executeCodeStep({
      code,
      toolNames: ["t"],
      state: step.state,
      toolResults: ["x"],
    });
    deepStrictEqual(end, { type: "success", stdout: "x\n", stderr: "" });
  }
  strictEqual(t.logs.filter((l) => /success \(replay/.test(l)).length, 1, t.logs.join("\n"));
  strictEqual(t.logs.filter((l) => /success \(warm/.test(l)).length, 1, t.logs.join("\n"));
  await assertOnlyPoolHosts(t);
  strictEqual(t.server.app.memory.held, 0);
});

Deno.test({
  name: "a program over its sandbox's memory cap is stopped by the kernel at its cgroup's limit",
  ignore: noCgroup,
  fn: async () => {
    await using t = await startServer({ sandboxMemoryMb: 300 });
    strictEqual(t.server.app.runner.memoryBound.kind, "cgroup");
    const result = await t.client.executeCode({
      code: `const keep = [];
try { for (;;) keep.push(new Uint8Array(16 << 20).fill(1)); } catch (e) { console.log(e.name); }`,
      tools: {},
    });
    // The data rlimit would have let it reach ~700 MiB and catch a RangeError.
    deepStrictEqual(result, {
      type: "runtime_error",
      stdout: "",
      stderr: "RangeError: the program exceeded its memory limit and was stopped\n",
    });
    deepStrictEqual(await t.client.executeCode({ code: "console.log(1)", tools: {} }), {
      type: "success",
      stdout: "1\n",
      stderr: "",
    });
    await assertOnlyPoolHosts(t);
  },
});

Deno.test("a burst of memory bombs at full concurrency (defaults) leaves the host over 8 GiB available", async () => {
  await using t = await startServer({ poolSize: 2, pythonPoolSize: 1 });
  const budget = t.server.app.memory.budget;
  const start = memAvailable();
  let lowest = start;
  const watcher = setInterval(() => lowest = Math.min(lowest, memAvailable()), 10);
  const bombs = [
    // Buffers until the sandbox refuses, then the heap until it is stopped.
    `const keep = [];
try { for (;;) keep.push(new Uint8Array(16 << 20).fill(1)); } catch { console.log("full"); }
for (;;) keep.push(Array.from({ length: 1e5 }, (_, i) => ({ i })));`,
    `const m = []; try { for (;;) { const w = new WebAssembly.Memory({ initial: 1024, maximum: 65536 });
new Uint8Array(w.buffer).fill(1); m.push(w); } } catch { console.log("full"); }
await new Promise((r) => setTimeout(r, 300));`,
  ];
  const python = `import js
keep = []
try:
    while True: keep.append(bytearray(16 << 20))
except MemoryError:
    pass
try:
    while True: keep.append(js.Uint8Array.new(16 << 20).fill(1))
except Exception:
    print("full")`;
  // The server's full concurrency (--max-concurrent 64): 48 TypeScript, 16 Python.
  const runs = Array.from({ length: 64 }, (_, i) =>
    t.client.executeCode(
      i % 4 === 3
        ? { code: python, tools: {}, language: "python" }
        : { code: bombs[i % 2]!, tools: {} },
    ).then((r) => r.type === "success" ? `success ${r.stdout.trim()}` : r.type, (e) =>
      e instanceof ProgtcHttpError ? `${e.status} ${e.code}` : `error ${e}`));
  const outcomes = await Promise.all(runs);
  clearInterval(watcher);
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  // Every bomb ended with a frame that says what happened, or was turned away at admission.
  for (const outcome of Object.keys(counts)) {
    ok(
      ["success full", "runtime_error", "503 over_capacity"].includes(outcome),
      JSON.stringify(counts),
    );
  }
  ok((counts["success full"] ?? 0) + (counts["runtime_error"] ?? 0) > 0, JSON.stringify(counts));
  ok(
    lowest > 8 * GiB,
    `available memory fell to ${(lowest / GiB).toFixed(1)} GiB (from ${
      (start / GiB).toFixed(1)
    }, budget ${(budget / GiB).toFixed(1)} GiB)`,
  );
  console.log(
    `burst: ${JSON.stringify(counts)}; available ${(start / GiB).toFixed(1)} → lowest ${
      (lowest / GiB).toFixed(1)
    } GiB; budget ${(budget / GiB).toFixed(1)} GiB`,
  );
  deepStrictEqual(await t.client.executeCode({ code: "console.log(1)", tools: {} }), {
    type: "success",
    stdout: "1\n",
    stderr: "",
  });
  await assertOnlyPoolHosts(t);
  strictEqual(t.server.app.memory.held, 0);
});
