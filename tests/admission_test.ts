/**
 * `Admission` over a fake runner whose measured memory the test sets: who waits, who gets 503,
 * and what is taken back over the budget (paused executions first, then the programs that hold
 * the most). The same on real sandboxes: security/memory_test.ts.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { Admission, type AdmissionRunner } from "../server/admission.ts";
import { silentLogger } from "../server/log.ts";
import { HttpProblem } from "../server/problem.ts";
import type { SandboxEvent } from "../runner/sandbox.ts";
import { FakeSandbox } from "./_fake_sandbox.ts";
import { delay, waitFor } from "./_helpers.ts";

const MiB = 2 ** 20;

function harness(budgetMb: number) {
  let measured = 0;
  const sandboxes: FakeSandbox[] = [];
  const runner: AdmissionRunner = {
    supports: () => true,
    readiness: () => ({ ready: true }),
    memoryInUse: () => measured,
    acquire: () => {
      const sandbox = new FakeSandbox(() => () => new Promise(() => {}));
      sandboxes.push(sandbox);
      return Promise.resolve(sandbox);
    },
  };
  const admission = new Admission({
    runner,
    maxConcurrent: 100,
    budgetBytes: budgetMb * MiB,
    chargeBytes: { deno: 10 * MiB, python: 64 * MiB },
    queueTimeoutMs: 300,
    logger: silentLogger,
    sampleMs: 10,
  });
  return {
    admission,
    sandboxes,
    measure: (mib: number) => measured = mib * MiB,
    [Symbol.dispose]: () => admission.close(),
  };
}

/** The events a sandbox's execution heard. */
function heard(sandbox: FakeSandbox): SandboxEvent[] {
  const events: SandboxEvent[] = [];
  sandbox.listen((event) => events.push(event));
  return events;
}

Deno.test("Admission counts what the hosts are measured to hold: over the budget a request waits, then 503", async () => {
  using h = harness(100);
  h.measure(95);
  await delay(30);
  const refused = await h.admission.admit("typescript").catch((error) => error);
  ok(refused instanceof HttpProblem, String(refused));
  deepStrictEqual([refused.status, refused.code, refused.headers], [503, "over_capacity", {
    "retry-after": "1",
  }]);
  ok(/Not enough memory for another typescript program: 95 of 100 MiB/.test(refused.message));
  // The hosts give memory back while a request waits: it is admitted then.
  const waiting = h.admission.admit("typescript");
  await delay(50);
  h.measure(40);
  const lease = await waiting;
  strictEqual(h.admission.memory.charged, 10 * MiB);
  lease[Symbol.dispose]();
  await lease.sandbox.released;
  strictEqual(h.admission.memory.charged, 0);
});

Deno.test("Admission over the budget takes back paused executions first, then ends the programs that hold the most", async () => {
  using h = harness(1000);
  const reclaims: number[] = [];
  let paused = 300 * MiB;
  h.admission.onReclaim((bytes) => {
    reclaims.push(bytes);
    const freed = paused;
    paused = 0;
    return freed;
  });
  const leases = await Promise.all([1, 2, 3].map(() => h.admission.admit("typescript")));
  const events = h.sandboxes.map(heard);
  [h.sandboxes[0]!.memoryBytes, h.sandboxes[1]!.memoryBytes, h.sandboxes[2]!.memoryBytes] = [
    400 * MiB,
    200 * MiB,
    5 * MiB,
  ];
  // 200 MiB over: the paused executions cover it; nothing else is ended.
  h.measure(1200);
  await waitFor("a reclaim", () => reclaims.length > 0);
  deepStrictEqual(reclaims[0], 200 * MiB);
  h.measure(900);
  await delay(30);
  deepStrictEqual(events.map((e) => e.length), [0, 0, 0]);
  // 500 MiB over and nothing paused: the largest (400) and the next (200) go, not the third.
  h.measure(1500);
  await waitFor("two evictions", () => events[1]!.length > 0);
  strictEqual(events[0]![0]!.type, "out_of_memory");
  ok(
    /^Error: out of memory: the server's sandboxes held 1500 MiB of their 1000 MiB, and this program was among those that held the most \(400 MiB\)$/
      .test((events[0]![0] as { error: string }).error),
  );
  // Each is ended once, and a program that holds less than its charge is never ended.
  await delay(50);
  deepStrictEqual(events.map((e) => e.length), [1, 1, 0]);
  for (const lease of leases) lease[Symbol.dispose]();
});

Deno.test("Admission refuses at once when draining, and says why it is not ready", async () => {
  using h = harness(100);
  strictEqual(h.admission.readiness("typescript").ready, true);
  h.measure(95);
  await delay(30);
  deepStrictEqual(h.admission.readiness("typescript"), {
    ready: false,
    code: "over_capacity",
    reason: "Not enough memory for another typescript program: 95 of 100 MiB are in use",
  });
  h.admission.drain();
  await rejects(h.admission.admit("typescript"), (error: HttpProblem) => {
    strictEqual(error.code, "shutting_down");
    return true;
  });
  strictEqual(h.admission.readiness("typescript").ready, false);
});
