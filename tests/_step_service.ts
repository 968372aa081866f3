/**
 * The step service over fake sandboxes (`_fake_sandbox.ts`), in process, for
 * step_service_test.ts and step_service_holds_test.ts: a harness that makes one and steps
 * programs through it.
 *
 * @module
 */
import type { AdmissionGate } from "../server/admission_gate.ts";
import { ByteBudget } from "../server/byte_budget.ts";
import { strictEqual } from "node:assert/strict";
import type { ExecuteCodeStepRequest, ExecuteCodeStepResult, StepToolCalls } from "../protocol.ts";
import { limitsOf } from "../server/limits.ts";
import { silentLogger } from "../server/log.ts";
import { resolveOptions } from "../server/options.ts";
import { StateCodec } from "../server/state_token.ts";
import { StepService, type StepServiceOptions } from "../server/step.ts";
import { type FakeProgram, FakeSandbox } from "./_fake_sandbox.ts";

/** A step service over fake sandboxes, and what it took. */
export interface Harness {
  service: StepService;
  sandboxes: FakeSandbox[];
  slots: { taken: number; released: number };
  step(request: Partial<ExecuteCodeStepRequest>): Promise<ExecuteCodeStepResult>;
  /** Sandboxes not finished: running or held. */
  live(): FakeSandbox[];
}

/**
 * A step service whose admission gives each execution a fake sandbox running `programs[code]`,
 * and counts the execution slots it takes and gives back.
 */
export async function harness(
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

/** The calls of a step that must have paused at a batch. */
export function calls(result: ExecuteCodeStepResult): StepToolCalls {
  strictEqual(result.type, "tool_call", JSON.stringify(result));
  return result as StepToolCalls;
}

/** Steps a program to its end, answering every call with `answer`; the results and keys seen. */
export async function run(
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
