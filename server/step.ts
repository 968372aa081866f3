/**
 * The step API (`POST /execute-code-step`): run a program until it needs tools, answer with
 * the batch of calls and a signed state, continue when the client sends the results.
 *
 * Invariants:
 * - Replay: a step that cannot continue a paused execution re-runs the program from the start,
 *   answers the first `records.length` calls from the state after checking each call's hash,
 *   and stops at the first batch of new calls. A hash mismatch ends the step with
 *   `determinism_error`.
 * - Warm resume: a paused execution is held (bounded count, TTL) under the state's `session`;
 *   a state whose `session` and `step` match the held one continues it without replay.
 *   Either way the program sees the same results in the same order, so the output is the same.
 * - A batch is every call issued before the program waits on tools only (the sandbox's `idle`).
 * - Output is kept by the execution from the start of the program, so the final stdout has
 *   everything printed once, whether the last step replayed or resumed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type {
  ExecuteCodeStepRequest,
  ExecuteCodeStepResult,
  Language,
  StepToolCall,
} from "../protocol.ts";
import { newId } from "../protocol.ts";
import { runMessage } from "../runner/runner.ts";
import { jsonOverLimit, resultTooLarge } from "./body.ts";
import type { ExecutionLimits, ToolOutcome } from "./execution.ts";
import { HttpProblem } from "./problem.ts";
import { type StateCodec, StateTokenError, type StepState } from "./state_token.ts";
import { canonicalJson, type Lease, record, StepRun, untilStop } from "./step_run.ts";

export type { Lease } from "./step_run.ts";

/** What the step service needs from its application. */
export interface StepServiceOptions {
  codec: StateCodec;
  /** Takes an execution slot and a ready sandbox, or throws an {@linkcode HttpProblem}. */
  acquire(language: Language): Promise<Lease>;
  /** Takes an execution slot only (to resume a paused execution). */
  acquireSlot(): Promise<() => void>;
  limits: Omit<ExecutionLimits, "toolCallTimeoutMs"> & {
    maxToolArgsBytes: number;
    maxToolResultBytes: number;
    pythonMemoryBytes: number;
  };
  language: Language;
  /** Longest state token accepted or issued. */
  maxStateBytes: number;
  /** Oldest state token accepted, in ms. */
  stateMaxAgeMs: number;
  /** How long a paused execution is held for a warm resume, in ms; 0 disables warm resume. */
  warmResumeTtlMs: number;
  /** Paused executions held at once. */
  maxPaused: number;
  log(line: string): void;
}

interface Paused {
  run: StepRun;
  step: number;
  timer: ReturnType<typeof setTimeout>;
}

/** Runs `/execute-code-step` requests. */
export class StepService {
  #options: StepServiceOptions;
  #paused = new Map<string, Paused>();
  /** Runs in the middle of a step (a request is waiting for them). */
  #active = new Set<StepRun>();

  constructor(options: StepServiceOptions) {
    this.#options = options;
  }

  /** Paused executions held for a warm resume. */
  get paused(): number {
    return this.#paused.size;
  }

  /** Steps running now. */
  get running(): number {
    return this.#active.size;
  }

  /**
   * Runs one step. Throws {@linkcode HttpProblem} for a request it refuses. When `signal`
   * aborts before the step stops (the client left), the execution is killed.
   */
  async step(
    body: ExecuteCodeStepRequest,
    bodyBytes: number,
    signal?: AbortSignal,
  ): Promise<ExecuteCodeStepResult> {
    const started = performance.now();
    const language = body.language ?? this.#options.language;
    const program = programHash(language, body);
    const previous = body.state ? await this.#decode(body.state) : undefined;
    const results = body.tool_results ?? [];
    if (previous === undefined && results.length > 0) {
      throw new HttpProblem(400, "invalid_body", "`tool_results` need the `state` they answer");
    }
    if (previous && previous.program !== program) {
      throw new HttpProblem(
        400,
        "state_mismatch",
        "The state belongs to a different program (code, tool names, language or modules)",
      );
    }
    const pending = previous?.pending ?? [];
    if (results.length !== pending.length) {
      throw new HttpProblem(
        400,
        "invalid_body",
        `Expected ${pending.length} tool results for the tool calls of the previous step, got ${results.length}`,
      );
    }
    const limit = this.#options.limits.maxToolResultBytes;
    results.forEach((result, index) => {
      const size = jsonOverLimit(result, limit, bodyBytes);
      if (size !== undefined) {
        throw new HttpProblem(
          413,
          "result_too_large",
          `tool_results[${index}]: ${resultTooLarge(size, limit)}`,
        );
      }
    });
    const outcomes = toOutcomes(results, body.tool_errors ?? []);
    const determinism = previous?.determinism ?? body.determinism ?? "strict";
    const step = (previous?.step ?? 0) + 1;

    let run: StepRun;
    let mode: "start" | "warm" | "replay";
    const held = previous ? this.#take(previous) : undefined;
    if (held) {
      mode = "warm";
      run = held;
      run.resume(outcomes, await this.#options.acquireSlot());
    } else {
      mode = previous ? "replay" : "start";
      const records = [
        ...previous?.records ?? [],
        ...pending.map((h, i) => record(h, outcomes[i]!)),
      ];
      const lease = await this.#options.acquire(language);
      run = new StepRun(
        lease,
        previous?.session ?? newId(),
        records,
        determinism,
        body.tool_names,
        {
          ...this.#options.limits,
          toolCallTimeoutMs: Infinity,
        },
      );
      run.execution.start(
        runMessage(language, body.code, body.tool_names, {
          ...this.#options.limits,
          reportIdle: true,
          ...(body.modules ? { modules: body.modules } : {}),
        }),
      );
    }

    this.#active.add(run);
    let stop;
    try {
      stop = await untilStop(run, signal);
    } finally {
      this.#active.delete(run);
    }
    const ms = (performance.now() - started).toFixed(1);
    if (stop.kind === "end") {
      this.#options.log(
        `step ${run.session} #${step} ${stop.result.type} (${mode}, ${stop.why}) ${ms} ms`,
      );
      return stop.result;
    }
    const state: StepState = {
      program,
      determinism,
      records: run.records,
      pending: run.batch.map((c) => c.hash),
      session: run.session,
      step,
      iat: Date.now(),
    };
    const token = await this.#options.codec.encode(state);
    if (token.length > this.#options.maxStateBytes) {
      // End the program as any other end: its output so far, and why it stopped.
      run.execution.stop(
        "runtime_error",
        `Error: the step state would exceed the limit of ${this.#options.maxStateBytes} bytes\n`,
        "state too large",
      );
      const end = await run.next();
      if (end.kind !== "end") throw new Error("A stopped step run did not end");
      return end.result;
    }
    this.#hold(run, step);
    this.#options.log(
      `step ${run.session} #${step} tool_call (${mode}) ${ms} ms, ${run.batch.length} calls`,
    );
    return {
      type: "tool_call",
      tool_calls: run.batch.map(({ call, index }): StepToolCall => ({
        ...call,
        frame_id: [],
        call_index: index,
      })),
      state: token,
    };
  }

  /** Ends every running and paused execution; resolves when their sandboxes are gone. */
  close(): Promise<void> {
    const runs = [...this.#active, ...[...this.#paused.values()].map((paused) => paused.run)];
    for (const paused of this.#paused.values()) clearTimeout(paused.timer);
    this.#paused.clear();
    for (const run of runs) run.execution.cancel("the server is shutting down");
    return Promise.all(runs.map((run) => run.execution.stopped)).then(() => {});
  }

  async #decode(token: string): Promise<StepState> {
    try {
      return await this.#options.codec.decode(token, {
        maxBytes: this.#options.maxStateBytes,
        maxAgeMs: this.#options.stateMaxAgeMs,
      });
    } catch (error) {
      if (!(error instanceof StateTokenError)) throw error;
      const status = error.reason === "too_large" ? 413 : 400;
      throw new HttpProblem(status, `state_${error.reason}`, error.message);
    }
  }

  #take(state: StepState): StepRun | undefined {
    const paused = this.#paused.get(state.session);
    if (!paused || paused.step !== state.step || paused.run.execution.ended) return undefined;
    this.#paused.delete(state.session);
    clearTimeout(paused.timer);
    return paused.run;
  }

  #hold(run: StepRun, step: number): void {
    run.releaseSlot();
    run.execution.pauseClock();
    const { warmResumeTtlMs, maxPaused } = this.#options;
    if (warmResumeTtlMs <= 0 || maxPaused <= 0) {
      run.execution.cancel("the step is paused and warm resume is off");
      return;
    }
    while (this.#paused.size >= maxPaused) {
      const [oldest] = this.#paused.keys();
      this.#evict(oldest!, "the server holds too many paused executions");
    }
    const timer = setTimeout(
      () => this.#evict(run.session, "it was not resumed in time"),
      warmResumeTtlMs,
    );
    this.#paused.set(run.session, { run, step, timer });
  }

  #evict(session: string, why: string): void {
    const paused = this.#paused.get(session);
    if (!paused) return;
    clearTimeout(paused.timer);
    this.#paused.delete(session);
    paused.run.execution.cancel(`paused execution dropped: ${why}`);
  }
}

function toOutcomes(
  results: unknown[],
  errors: { index: number; message: string }[],
): ToolOutcome[] {
  const failed = new Map<number, string>();
  for (const { index, message } of errors) {
    if (index >= results.length || failed.has(index)) {
      throw new HttpProblem(
        400,
        "invalid_body",
        `tool_errors: index ${index} is not a distinct position in tool_results`,
      );
    }
    failed.set(index, message);
  }
  return results.map((value, i) =>
    failed.has(i) ? { error: failed.get(i)! } : { value: value ?? null }
  );
}

function programHash(language: Language, body: ExecuteCodeStepRequest): string {
  const subject = canonicalJson([language, body.code, body.tool_names, body.modules ?? {}]);
  return createHash("sha256").update(subject).digest("hex").slice(0, 32);
}
