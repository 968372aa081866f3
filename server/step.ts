/**
 * The step API (`POST /execute-code-step`): run a program until it needs tools, answer with the
 * batch of calls and a signed state, continue when the client sends the results. The service
 * decides each request's path; the run a step continues (held or from the start) is
 * `step_start.ts`'s, and what a step answers (the batch and its state, or the end) is
 * `step_result.ts`'s.
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
import type { ExecuteCodeStepRequest, Language } from "../protocol.ts";
import { type Context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { AdmissionGate } from "./admission_gate.ts";
import { describeEnd } from "./end_reason.ts";
import type { ByteBudget } from "./byte_budget.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import { contextOf, endSpan, instruments, startSpan } from "./telemetry.ts";
import { type StateCodec, stateProblem, StateTokenError, type StepState } from "./state_token.ts";
import { StepHolds } from "./step_holds.ts";
import { programHash, stepAnswers } from "./step_request.ts";
import { type StepRun, type Stop, untilStop } from "./step_run.ts";
import type { Session } from "./session.ts";
import type { SessionRequest } from "./sessions.ts";
import type { StepSessionRef, StepSessions } from "./step_session.ts";
import { startStep, type StepStartContext } from "./step_start.ts";
import { finalResult, pauseStep, type StepAnswer, type StepResultContext } from "./step_result.ts";

export type { StepAnswer } from "./step_result.ts";

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

    const { run, mode, sessionMode } = await startStep(body, parent, {
      previous,
      ref,
      language,
      program,
      pending,
      outcomes,
      results,
    }, this.#parts());
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
      return {
        result: await finalResult(run, stop, ref, body, this.#parts()),
        session: run.session,
      };
    }
    return await pauseStep(run, stop, {
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
    }, this.#parts());
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

  /** What this service's parts need of it (`step_start.ts`, `step_result.ts`). */
  #parts(): StepStartContext & StepResultContext {
    const { admission, limits, maxAnswerBytes, budget, codec, maxStateBytes, logger } =
      this.#options;
    return {
      admission,
      limits,
      maxAnswerBytes,
      budget,
      codec,
      maxStateBytes,
      logger,
      holds: this.#holds,
      sessions: this.#sessions,
      sessionOf: this.#sessionOf,
    };
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
