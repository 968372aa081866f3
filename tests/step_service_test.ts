/**
 * The step service over a fake sandbox (`_fake_sandbox.ts`), in process: replay by call key,
 * edited programs, retries and forks of one state, holds that end (resume, TTL, bound, close),
 * and that no sandbox is held past what the service holds. The same behaviours end to end, on
 * real sandboxes, are in `step_test.ts`, `step_keys_test.ts` and the reference suites.
 *
 * @module
 */
import type { AdmissionGate } from "../server/admission_gate.ts";
import { ByteBudget } from "../server/byte_budget.ts";
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import type { ExecuteCodeStepRequest, ExecuteCodeStepResult, StepToolCalls } from "../protocol.ts";
import { limitsOf } from "../server/limits.ts";
import { silentLogger } from "../server/log.ts";
import { resolveOptions } from "../server/options.ts";
import { HttpProblem } from "../server/problem.ts";
import { StateCodec } from "../server/state_token.ts";
import { StepService, type StepServiceOptions } from "../server/step.ts";
import { type FakeProgram, FakeSandbox } from "./_fake_sandbox.ts";
import { delay } from "./_helpers.ts";

interface Harness {
  service: StepService;
  sandboxes: FakeSandbox[];
  slots: { taken: number; released: number };
  step(request: Partial<ExecuteCodeStepRequest>): Promise<ExecuteCodeStepResult>;
  /** Sandboxes not finished: running or held. */
  live(): FakeSandbox[];
}

async function harness(
  programs: Record<string, FakeProgram>,
  options: Partial<Omit<StepServiceOptions, "admission">> & {
    /** Admission of a resume: an execution slot. */
    slot?: AdmissionGate["slot"];
  } = {},
): Promise<Harness> {
  const sandboxes: FakeSandbox[] = [];
  const slots = { taken: 0, released: 0 };
  const slot = () => {
    slots.taken++;
    let done = false;
    return () => {
      if (!done) slots.released++;
      done = true;
    };
  };
  const { slot: slotOf, ...given } = options;
  const admission: AdmissionGate = {
    admit: () => {
      const sandbox = new FakeSandbox((code) => programs[code]!);
      sandboxes.push(sandbox);
      const release = slot();
      return Promise.resolve({
        sandbox,
        release,
        memoryBytes: 100,
        [Symbol.dispose]: () => {
          release();
          sandbox.finish();
        },
      });
    },
    slot: slotOf ?? (() => Promise.resolve(slot())),
    onReclaim: () => {},
  };
  const service = new StepService({
    codec: await StateCodec.create("secret"),
    admission,
    limits: limitsOf(resolveOptions({ apiKey: "k" })),
    language: "typescript",
    maxStateBytes: 1 << 20,
    stateMaxAgeMs: 60_000,
    warmResumeTtlMs: 60_000,
    maxPaused: 8,
    maxAnswerBytes: 1 << 20,
    budget: new ByteBudget(64 << 20),
    logger: silentLogger,
    ...given,
  });
  return {
    service,
    sandboxes,
    slots,
    step: (request) =>
      service.step({ code: "", tool_names: ["t", "get", "log"], ...request }, 1000).then((
        answer,
      ) => answer.result),
    live: () => sandboxes.filter((s) => s.live),
  };
}

function calls(result: ExecuteCodeStepResult): StepToolCalls {
  strictEqual(result.type, "tool_call", JSON.stringify(result));
  return result as StepToolCalls;
}

/** Steps a program to its end, answering every call with `answer`; the results and keys seen. */
async function run(
  h: Harness,
  code: string,
  answer: (name: string, args: unknown[]) => unknown,
  extra: Partial<ExecuteCodeStepRequest> = {},
) {
  const batches: string[][] = [];
  let result = await h.step({ code, ...extra });
  while (result.type === "tool_call") {
    const batch = result.tool_calls;
    batches.push(batch.map((c) => `${c.frame_id.join(".")}#${c.call_index}`));
    result = await h.step({
      code,
      ...extra,
      state: result.state,
      tool_results: batch.map((c) => answer(c.tool_name, c.args) as never),
    });
  }
  return { result, batches };
}

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
