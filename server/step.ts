/**
 * The step API (`POST /execute-code-step`): run a program until it needs tools, answer with the
 * batch of calls and a signed state, continue when the client sends the results.
 *
 * Invariants:
 * - Replay: a step that does not continue a held execution runs the request's program from the
 *   start and answers each call from the state's records by call key (see `step_run.ts`): the
 *   code may differ from the first step's (an edit), and a call that differs from its record
 *   fails with `DeterminismError` in the program.
 * - Warm resume: a paused execution is held (bounded count, TTL) under the state's `hold`; a
 *   step continues it only when the state names it, is at its step, and the request's program
 *   (language, code, tool names, modules) is the one it runs. Either way the program sees the
 *   same answers, so the output is the same.
 * - A held execution is taken by one request at most: a retry or a fork of the same state
 *   replays instead, with its own answers. At most one execution is held per session and step
 *   (a newer one replaces and kills the older), and every hold ends by a resume, its TTL, the
 *   bound on holds, or the server stopping: no sandbox outlives it. A step that took a held
 *   execution and then fails (no slot) kills it.
 * - Output is kept by the execution from the start of the program, so the final stdout has
 *   everything printed once, whether the last step replayed or resumed.
 * - A program of a session (fixed by its first step, carried by its states) runs in a realm at
 *   exactly its session's history, kept or rebuilt (`step_session.ts`); a replay of such a
 *   program rebuilds the realm first.
 *
 * @module
 */
import type {
  ExecuteCodeStepRequest,
  ExecuteCodeStepResult,
  Language,
  StepToolCall,
} from "../protocol.ts";
import { newId } from "../protocol.ts";
import { runMessage } from "../runner/runner.ts";
import type { ToolOutcome } from "./execution.ts";
import { type Context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { AdmissionGate } from "./admission.ts";
import { describeEnd } from "./end_reason.ts";
import type { ByteBudget } from "./byte_budget.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import { contextOf, endSpan, instruments, startSpan } from "./telemetry.ts";
import {
  type StateCodec,
  stateProblem,
  StateTokenError,
  type StepRecord,
  type StepState,
} from "./state_token.ts";
import { StepHolds } from "./step_holds.ts";
import { programHash, stepAnswers } from "./step_request.ts";
import { sessionProgramSource } from "./session_source.ts";
import { record, StepRun, stepToolCall, type Stop, untilStop } from "./step_run.ts";
import type { Session } from "./session.ts";
import type { SessionRequest } from "./sessions.ts";
import { programRecord, type StepSessionRef, type StepSessions } from "./step_session.ts";

/** What the step service needs from its application. */
export interface StepServiceOptions {
  codec: StateCodec;
  /**
   * Who may run now: leases a slot, memory and a sandbox (or a slot only, to resume a held
   * execution). The service gives back paused executions' memory when it is short.
   */
  admission: AdmissionGate;
  limits: Limits;
  language: Language;
  /** Longest state token accepted or issued. */
  maxStateBytes: number;
  /** Oldest state token accepted, in ms. */
  stateMaxAgeMs: number;
  /** How long a paused execution is held for a warm resume, in ms; 0 disables warm resume. */
  warmResumeTtlMs: number;
  /** Paused executions held at once. */
  maxPaused: number;
  /** Bytes of JSON the tool calls of one step answer may take. */
  maxAnswerBytes: number;
  /** The server's bytes held for clients. */
  budget: ByteBudget;
  /** Refuses `modules` a program of `language` may not have (a problem). */
  checkModules?(modules: Record<string, string> | undefined, language: Language): Promise<void>;
  logger: Logger;
}

/** One step's answer, and the session (execution) it belongs to. */
export interface StepAnswer {
  result: ExecuteCodeStepResult;
  /** The session id: the same for every step of one program's run, replays included. */
  session: string;
}

/** Runs `/execute-code-step` requests. */
export class StepService {
  #options: StepServiceOptions;
  /** Paused executions held for a warm resume. */
  #holds: StepHolds;
  /** Runs in the middle of a step (a request is waiting for them). */
  #active = new Set<StepRun>();
  /** The session of each run that is a session's program. */
  #sessionOf = new WeakMap<StepRun, Session>();
  /** Sessions on the step API (none: a request that names one is refused). */
  #sessions: StepSessions | undefined;

  constructor(options: StepServiceOptions) {
    this.#options = options;
    this.#holds = new StepHolds(options);
    // Paused executions give their memory back first when it is short: they replay.
    options.admission.onReclaim((bytes) => this.reclaim(bytes));
  }

  /**
   * Runs sessions' programs with `sessions` (made after this service, so that paused step
   * executions give memory back before idle sessions).
   */
  useSessions(sessions: StepSessions): void {
    this.#sessions = sessions;
  }

  /** Paused executions held for a warm resume. */
  get paused(): number {
    return this.#holds.size;
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
    parent: Context = ROOT_CONTEXT,
    session?: SessionRequest,
  ): Promise<StepAnswer> {
    const language = body.language ?? this.#options.language;
    const span = startSpan("progtc.step", parent, {
      "progtc.language": language,
      "progtc.api": "step",
    });
    try {
      const answer = await this.#step(body, bodyBytes, signal, contextOf(span, parent), session);
      const { result } = answer;
      endSpan(span, result.type, {
        "progtc.session": answer.session,
        ...(result.type === "tool_call" ? { "progtc.tool_calls": result.tool_calls.length } : {}),
      });
      instruments.executions.add(1, { outcome: result.type, language, api: "step" });
      return answer;
    } catch (error) {
      endSpan(span, error instanceof HttpProblem ? error.code : "internal");
      throw error;
    }
  }

  async #step(
    body: ExecuteCodeStepRequest,
    bodyBytes: number,
    signal: AbortSignal | undefined,
    parent: Context,
    session: SessionRequest | undefined,
  ): Promise<StepAnswer> {
    const started = performance.now();
    const previous = body.state ? await this.#decode(body.state) : undefined;
    const ref = await this.#sessionRef(body, previous, session);
    const language = ref?.history.language ?? body.language ?? this.#options.language;
    await this.#options.checkModules?.(body.modules, language);
    const program = programHash(language, body);
    const { results, pending, outcomes } = stepAnswers(
      body,
      previous,
      bodyBytes,
      this.#options.limits.maxToolResultBytes,
    );
    const determinism = previous?.determinism ?? body.determinism ?? "strict";
    const step = (previous?.step ?? 0) + (results.length > 0 || !previous ? 1 : 0);

    const { run, mode, sessionMode } = await this.#begin(body, parent, {
      previous,
      ref,
      language,
      program,
      pending,
      outcomes,
      results,
    });
    this.#active.add(run);
    let stop: Stop;
    try {
      stop = await untilStop(run, signal);
    } finally {
      this.#active.delete(run);
    }
    const ms = (performance.now() - started).toFixed(1);
    const fields = {
      event: "step",
      session: run.session,
      step,
      language,
      mode,
      duration_ms: Number(ms),
      sandbox_pid: run.sandbox.pid,
      ...(ref ? { session_id: ref.history.id } : {}),
    };
    const where = `sandbox ${run.sandbox.pid}${ref ? `, session ${ref.history.id}` : ""}`;
    if (stop.kind === "end") {
      const why = describeEnd(stop.reason);
      this.#options.logger.info(
        `step ${run.session} #${step} ${stop.result.type} (${mode}${sessionMode}, ${why}) ${ms} ms, ${where}`,
        { ...fields, outcome: stop.result.type, why, end: stop.reason.code },
      );
      return { result: await this.#final(run, stop, ref, body), session: run.session };
    }
    return await this.#pause(run, stop, {
      program,
      determinism,
      step,
      ref,
      body,
      mode,
      sessionMode,
    }, {
      fields,
      ms,
      where,
    });
  }

  /**
   * The run a step continues: the held execution its state names (warm), or the program from
   * the start (a first step, or a replay with the state's records and this request's results).
   */
  async #begin(
    body: ExecuteCodeStepRequest,
    parent: Context,
    from: {
      previous: StepState | undefined;
      ref: StepSessionRef | undefined;
      language: Language;
      program: string;
      pending: { k: string; h: string }[];
      outcomes: ToolOutcome[];
      results: unknown[];
    },
  ): Promise<{ run: StepRun; mode: "start" | "warm" | "replay"; sessionMode: string }> {
    const { previous, ref, language, program, pending, outcomes, results } = from;
    let held = previous && results.length > 0 ? this.#holds.find(previous, program) : undefined;
    let release: (() => void) | undefined;
    if (held) {
      // The slot first: a step refused for capacity leaves the execution held.
      release = await this.#options.admission.slot();
      // While this waited, the hold may have ended (its memory reclaimed for a new execution,
      // its TTL, a newer hold of the step) or gone to a retry of this request: replay then.
      if (this.#holds.find(previous!, program) !== held) {
        release();
        held = undefined;
      }
    }
    if (held) {
      this.#holds.take(previous!.hold);
      held.resume(outcomes, release!);
      return { run: held, mode: "warm", sessionMode: "" };
    }
    const records = new Map<string, StepRecord>(Object.entries(previous?.records ?? {}));
    if (results.length > 0) {
      pending.forEach((p, i) => records.set(p.k, record(p.h, outcomes[i]!)));
    }
    const fresh = await this.#newRun(
      body,
      { previous, ref, language, program, records },
      parent,
    );
    return { run: fresh.run, mode: previous ? "replay" : "start", sessionMode: fresh.sessionMode };
  }

  /** A step that stopped at a batch: its state, the execution held, the batch answered. */
  async #pause(
    run: StepRun,
    stop: Extract<Stop, { kind: "batch" }>,
    at: {
      program: string;
      determinism: StepState["determinism"];
      step: number;
      ref: StepSessionRef | undefined;
      body: ExecuteCodeStepRequest;
      mode: string;
      sessionMode: string;
    },
    log: { fields: Record<string, unknown>; ms: string; where: string },
  ): Promise<StepAnswer> {
    const { program, determinism, step, ref, body, mode, sessionMode } = at;
    const { fields, ms, where } = log;
    const hold = newId();
    const state: StepState = {
      program,
      determinism,
      records: Object.fromEntries(run.records),
      pending: stop.calls.map(({ key, hash }) => ({ k: key, h: hash })),
      session: run.session,
      hold,
      step,
      iat: Date.now(),
      ...(ref ? { ses: ref.history } : {}),
    };
    const encoded = await this.#options.codec.encode(state, this.#options.maxStateBytes);
    if ("tooLarge" in encoded) {
      // A token the next step would refuse is never issued: the program ends as any other end,
      // with its output so far, and why it stopped.
      run.stop(
        "runtime_error",
        `Error: the step state (${encoded.tooLarge} bytes) would exceed the limit of ${this.#options.maxStateBytes} bytes\n`,
        { code: "state_too_large" },
      );
      const end = await run.next();
      if (end.kind !== "end") throw new Error("A stopped step run did not end");
      return { result: await this.#final(run, end, ref, body), session: run.session };
    }
    const toolCalls = stop.calls.map((call): StepToolCall => stepToolCall(call));
    run.answered();
    this.#holds.hold(run, hold, step);
    this.#options.logger.info(
      `step ${run.session} #${step} tool_call (${mode}${sessionMode}) ${ms} ms, ${stop.calls.length} calls, ${where}`,
      { ...fields, outcome: "tool_call", tool_calls: stop.calls.length },
    );
    return {
      result: {
        type: "tool_call",
        tool_calls: toolCalls,
        state: encoded.token,
      },
      session: run.session,
    };
  }

  /** Frees memory for a new execution: drops paused executions (see `StepHolds`). */
  reclaim(bytes: number): number {
    return this.#holds.reclaim(bytes);
  }

  /** Ends every running and paused execution; resolves when their sandboxes are released. */
  close(): Promise<void> {
    const runs = [...this.#active, ...this.#holds.release()];
    for (const run of runs) run.cancel("the server is shutting down");
    return Promise.all(runs.map((run) => run.stopped)).then(() => {});
  }

  /**
   * Starts the request's program from the start (a first step, or a replay): in a sandbox of
   * its own, or in its session's realm, kept or rebuilt.
   */
  async #newRun(
    body: ExecuteCodeStepRequest,
    from: {
      previous: StepState | undefined;
      ref: StepSessionRef | undefined;
      language: Language;
      program: string;
      records: Map<string, StepRecord>;
    },
    parent: Context,
  ): Promise<{ run: StepRun; sessionMode: string }> {
    const { previous, ref, language } = from;
    const code = ref ? await sessionProgramSource(body.code, language) : body.code;
    // A replay of a session's program needs a realm at the history before it: rebuilt.
    const admitted = ref
      ? await this.#sessions!.admit(previous ? { history: ref.history } : ref, parent)
      : undefined;
    const lease = admitted ?? await this.#options.admission.admit(language, parent);
    const run = new StepRun(lease, {
      session: previous?.session ?? newId(),
      program: from.program,
      records: from.records,
      determinism: previous?.determinism ?? body.determinism ?? "strict",
      toolNames: body.tool_names,
      limits: this.#options.limits,
      maxAnswerBytes: this.#options.maxAnswerBytes,
      budget: this.#options.budget,
      ...(admitted
        ? { ended: (kept, reason) => admitted.session.after(kept, describeEnd(reason)) }
        : {}),
    });
    if (admitted) this.#sessionOf.set(run, admitted.session);
    run.start(
      runMessage(language, code, body.tool_names, {
        ...this.#options.limits,
        reportIdle: true,
        returnValue: body.return_value,
        modules: body.modules,
        session: admitted !== undefined,
      }),
    );
    return { run, sessionMode: admitted ? `, session ${admitted.mode}` : "" };
  }

  /** The session of a step's program (fixed by its first step, carried by its states). */
  async #sessionRef(
    body: ExecuteCodeStepRequest,
    previous: StepState | undefined,
    session: SessionRequest | undefined,
  ): Promise<StepSessionRef | undefined> {
    const named = previous
      ? previous.ses !== undefined
      : session !== undefined || body.session_state !== undefined;
    if (!named) return undefined;
    if (!this.#sessions) {
      throw new HttpProblem(400, "invalid_session", "This server does not keep sessions");
    }
    return await this.#sessions.ref(body, previous?.ses, session, this.#options.language);
  }

  /** A run's final answer: a session program's says how its session goes on. */
  #final(
    run: StepRun,
    end: Extract<Stop, { kind: "end" }>,
    ref: StepSessionRef | undefined,
    body: ExecuteCodeStepRequest,
  ): Promise<ExecuteCodeStepResult> | ExecuteCodeStepResult {
    const session = this.#sessionOf.get(run);
    if (!ref || !session) return end.result as ExecuteCodeStepResult;
    return this.#sessions!.answer(session, ref.history, programRecord(body, run), {
      result: end.result,
      kept: run.kept,
      why: describeEnd(end.reason),
    });
  }

  async #decode(token: string): Promise<StepState> {
    try {
      return await this.#options.codec.decode(token, {
        maxStateBytes: this.#options.maxStateBytes,
        maxAgeMs: this.#options.stateMaxAgeMs,
      });
    } catch (error) {
      throw error instanceof StateTokenError ? stateProblem(error) : error;
    }
  }
}
