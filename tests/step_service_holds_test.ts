/**
 * The step service over a fake sandbox (`_fake_sandbox.ts`), in process: retries and forks of
 * one state, holds that end (resume, TTL, bound, close, memory reclaimed), a batch's answers
 * sent at once, and that no sandbox is held past what the service holds. Replay by call key:
 * step_service_test.ts.
 *
 * @module
 */
import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { HttpProblem } from "../server/problem.ts";
import type { FakeProgram } from "./_fake_sandbox.ts";
import { delay } from "./_helpers.ts";
import type { ExecuteCodeStepResult } from "../protocol.ts";
import { calls, harness } from "./_step_service.ts";

const ECHO_TWICE: FakeProgram = async ({ call, print }) => {
  const a = await call("t", ["first"]);
  const b = await call("t", ["second", a]);
  print(`${a} ${b}\n`);
};

Deno.test("StepService answers a retry of the same state and results with the same next step, and holds one execution", async () => {
  const h = await harness({ echo: ECHO_TWICE });
  const first = calls(await h.step({ code: "echo" }));
  const once = calls(await h.step({ code: "echo", state: first.state, tool_results: ["x"] }));
  const again = calls(await h.step({ code: "echo", state: first.state, tool_results: ["x"] }));
  deepStrictEqual(
    again.tool_calls.map((c) => [c.tool_name, c.args, c.frame_id, c.call_index]),
    once.tool_calls.map((c) => [c.tool_name, c.args, c.frame_id, c.call_index]),
  );
  // The retry replayed in a new sandbox and replaced the first continuation's hold.
  strictEqual(h.sandboxes.length, 2);
  strictEqual(h.live().length, 1);
  strictEqual(h.service.paused, 1);
  for (const state of [once.state, again.state]) {
    deepStrictEqual(await h.step({ code: "echo", state, tool_results: ["y"] }), {
      type: "success",
      stdout: "x y\n",
      stderr: "",
    });
  }
  strictEqual(h.live().length, 0);
  strictEqual(h.slots.taken, h.slots.released);
});

Deno.test("StepService gives each fork of one state its own continuation", async () => {
  const h = await harness({ echo: ECHO_TWICE });
  const first = calls(await h.step({ code: "echo" }));
  const left = calls(await h.step({ code: "echo", state: first.state, tool_results: ["L"] }));
  const right = calls(await h.step({ code: "echo", state: first.state, tool_results: ["R"] }));
  deepStrictEqual(left.tool_calls[0]!.args, ["second", "L"]);
  deepStrictEqual(right.tool_calls[0]!.args, ["second", "R"]);
  const [l, r] = [
    await h.step({ code: "echo", state: left.state, tool_results: ["1"] }),
    await h.step({ code: "echo", state: right.state, tool_results: ["2"] }),
  ];
  deepStrictEqual([l, r], [
    { type: "success", stdout: "L 1\n", stderr: "" },
    { type: "success", stdout: "R 2\n", stderr: "" },
  ]);
  strictEqual(h.live().length, 0);
});

Deno.test("StepService leaves a held execution held when a resume finds no slot, and resumes it later", async () => {
  let refuse = true;
  const h = await harness({ echo: ECHO_TWICE }, {
    slot: () => {
      if (refuse) {
        return Promise.reject(new HttpProblem(503, "over_capacity", "Too many executions"));
      }
      return Promise.resolve(() => {});
    },
  });
  const first = calls(await h.step({ code: "echo" }));
  await rejects(h.step({ code: "echo", state: first.state, tool_results: ["x"] }), HttpProblem);
  strictEqual(h.live().length, 1, "the held execution was lost or leaked");
  strictEqual(h.service.paused, 1);
  refuse = false;
  const resumed = calls(await h.step({ code: "echo", state: first.state, tool_results: ["x"] }));
  deepStrictEqual(resumed.tool_calls[0]!.args, ["second", "x"]);
  strictEqual(h.sandboxes.length, 1, "the resume replayed instead of continuing");
});

Deno.test("StepService kills a held execution at its TTL, at the bound on holds, and on close", async () => {
  const h = await harness({ echo: ECHO_TWICE }, { warmResumeTtlMs: 50, maxPaused: 2 });
  await h.step({ code: "echo" });
  await delay(100);
  strictEqual(h.live().length, 0);
  strictEqual(h.sandboxes[0]!.stopped, true);
  for (let i = 0; i < 3; i++) await h.step({ code: "echo" });
  strictEqual(h.live().length, 2);
  strictEqual(h.service.paused, 2);
  await h.service.close();
  strictEqual(h.live().length, 0);
  strictEqual(h.slots.taken, h.slots.released);
});

Deno.test("StepService sends a batch's answers at once, and re-runs a step sent without results", async () => {
  const both: FakeProgram = async ({ call, print }) => {
    const [a, b] = await Promise.all([call("t", ["a"]), call("t", ["b"])]);
    print(`${a}${b}\n`);
  };
  const h = await harness({ both });
  const first = calls(await h.step({ code: "both" }));
  strictEqual(first.tool_calls.length, 2);
  const again = calls(await h.step({ code: "both", state: first.state, tool_results: [] }));
  deepStrictEqual(again.tool_calls.map((c) => c.args), first.tool_calls.map((c) => c.args));
  const done = await h.step({ code: "both", state: again.state, tool_results: [1, 2] });
  deepStrictEqual(done, { type: "success", stdout: "12\n", stderr: "" });
  const sandbox = h.sandboxes.at(-1)!;
  deepStrictEqual(
    sandbox.sent.filter((m) => m.type !== "run").map((m) => m.type),
    ["tool_results"],
  );
});

Deno.test("StepService puts calls made after a stop into the next batch", async () => {
  const late: FakeProgram = async ({ call, print }) => {
    const first = call("t", ["first"]);
    // Idle comes first (the fake says it 5 ms after the last call); this call comes later.
    await delay(30);
    const second = call("t", ["late"]);
    print(`${await first} ${await second}\n`);
  };
  const h = await harness({ late });
  const first = calls(await h.step({ code: "late" }));
  deepStrictEqual(first.tool_calls.map((c) => c.args), [["first"]]);
  await delay(50);
  const next = calls(await h.step({ code: "late", state: first.state, tool_results: ["A"] }));
  deepStrictEqual(next.tool_calls.map((c) => c.args), [["late"]]);
  const done = await h.step({ code: "late", state: next.state, tool_results: ["B"] });
  deepStrictEqual(done, { type: "success", stdout: "A B\n", stderr: "" });
});

Deno.test("StepService reclaims memory by dropping paused executions, oldest first, as much as asked", async () => {
  const h = await harness({ echo: ECHO_TWICE }, { maxPaused: 8 });
  for (let i = 0; i < 4; i++) await h.step({ code: "echo" });
  strictEqual(h.service.paused, 4);
  // Each fake sandbox was admitted with 100 bytes: 150 takes two, the oldest.
  strictEqual(h.service.reclaim(150), 200);
  strictEqual(h.service.paused, 2);
  deepStrictEqual(h.sandboxes.map((s) => s.live), [false, false, true, true]);
  strictEqual(h.service.reclaim(1000), 200);
  strictEqual(h.service.reclaim(1), 0, "nothing left to drop");
  strictEqual(h.live().length, 0);
});

Deno.test("StepService replays a step whose held execution ended while the resume waited for a slot", async () => {
  // Found by the soak: a resume waiting for its slot while another execution's admission
  // reclaimed the held execution's memory answered "paused execution dropped", losing the step.
  let whileWaiting: (() => Promise<void>) | undefined;
  const h = await harness({ echo: ECHO_TWICE }, {
    slot: async () => {
      const during = whileWaiting;
      whileWaiting = undefined;
      await during?.();
      return () => {};
    },
  });
  const first = calls(await h.step({ code: "echo" }));

  // Admission reclaims the held execution's memory while the resume waits for its slot.
  whileWaiting = () => Promise.resolve(void strictEqual(h.service.reclaim(1), 100));
  const resumed = calls(await h.step({ code: "echo", state: first.state, tool_results: ["x"] }));
  deepStrictEqual(resumed.tool_calls[0]!.args, ["second", "x"]);
  strictEqual(h.sandboxes.length, 2, "the step replayed in a new sandbox");

  // A retry of the same request gets the slot first and takes the hold: both answers are right.
  let retry: Promise<ExecuteCodeStepResult> | undefined;
  const request = { code: "echo", state: resumed.state, tool_results: ["y"] };
  whileWaiting = async () => {
    retry = h.step(request);
    await retry;
  };
  const answer = await h.step(request);
  const done = { type: "success", stdout: "x y\n", stderr: "" };
  deepStrictEqual(answer, done);
  deepStrictEqual(await retry, done);
  strictEqual(h.live().length, 0, "a sandbox outlived its step");
});
