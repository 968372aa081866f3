/**
 * The step service over a fake sandbox (`_fake_sandbox.ts`), in process: replay by call key,
 * whatever order the calls come in, and edited programs replayed against their records (a
 * changed call fails in the program; in order_only mode, changed arguments replay). Retries,
 * forks and holds: step_service_holds_test.ts. The same behaviours end to end, on real
 * sandboxes, are in `step_test.ts`, `step_keys_test.ts` and the reference suites.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { FakeProgram } from "./_fake_sandbox.ts";
import { calls, harness, run } from "./_step_service.ts";

/** Two flows (frames 0.0 and 0.1) of two calls each, issued in an order that flips every run. */
let flips = 0;
const TWO_FLOWS: FakeProgram = async ({ call, print }) => {
  const reverse = flips++ % 2 === 1;
  const flow = async (f: number) => {
    const a = await call("t", [f, "a"], { frame: [0, f], index: 0 });
    const b = await call("t", [f, "b", a], { frame: [0, f], index: 1 });
    return `${f}:${a},${b}`;
  };
  const [x, y] = reverse
    ? await Promise.all([flow(1), flow(0)]).then(([p, q]) => [q, p])
    : await Promise.all([flow(0), flow(1)]);
  print(`${x} ${y}\n`);
};

Deno.test("StepService replays each call from its record by call key, whatever order the calls come in", async () => {
  for (const warmResumeTtlMs of [60_000, 0]) {
    const h = await harness({ two: TWO_FLOWS }, { warmResumeTtlMs });
    const { result, batches } = await run(h, "two", (_n, args) => args.join("-"));
    // Each batch is sorted by frame, then index, whichever flow called first.
    deepStrictEqual(batches, [["0.0#0", "0.1#0"], ["0.0#1", "0.1#1"]]);
    deepStrictEqual(result, {
      type: "success",
      stdout: "0:0-a,0-b-0-a 1:1-a,1-b-1-a\n",
      stderr: "",
    });
    strictEqual(h.live().length, 0);
    strictEqual(h.slots.taken, h.slots.released);
  }
});

const LONDON: FakeProgram = async ({ call, print }) => {
  print(`${await call("get", ["London"])}\n`);
  print(`${await call("get", ["Rome"])}\n`);
};
const PARIS: FakeProgram = async ({ call, print }) => {
  print(`${await call("get", ["Paris"])}\n`);
  print(`${await call("get", ["Rome"])}\n`);
};
const FORECAST: FakeProgram = async ({ call, print }) => {
  print(`${await call("t", ["London"])}\n`);
};

Deno.test("StepService replays an edited program against the records: a changed call fails in the program", async () => {
  const h = await harness({ london: LONDON, paris: PARIS, forecast: FORECAST });
  const first = calls(await h.step({ code: "london" }));
  const edited = await h.step({ code: "paris", state: first.state, tool_results: ["Sunny"] });
  strictEqual(edited.type, "determinism_error");
  ok(edited.stderr.includes("The call to `get` violated this rule."), edited.stderr);
  // The held execution of the first program was not used by the edited one: it still resumes.
  const resumed = calls(
    await h.step({ code: "london", state: first.state, tool_results: ["Sunny"] }),
  );
  deepStrictEqual(resumed.tool_calls.map((c) => c.args), [["Rome"]]);
});

Deno.test("StepService in order_only mode replays an edit that only changed arguments; a changed tool still fails", async () => {
  const h = await harness({ london: LONDON, paris: PARIS, forecast: FORECAST });
  const first = calls(await h.step({ code: "london", determinism: "order_only" }));
  // The mode travels in the state: the next request does not repeat it.
  const edited = calls(
    await h.step({ code: "paris", state: first.state, tool_results: ["Sunny"] }),
  );
  deepStrictEqual(edited.tool_calls.map((c) => c.args), [["Rome"]]);
  const last = await h.step({ code: "paris", state: edited.state, tool_results: ["Warm"] });
  deepStrictEqual(last, { type: "success", stdout: "Sunny\nWarm\n", stderr: "" });
  const otherTool = await h.step({ code: "forecast", state: first.state, tool_results: ["x"] });
  strictEqual(otherTool.type, "determinism_error");
});
