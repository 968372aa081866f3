/**
 * What a step answers: at a batch, the calls and the signed state that continues them (the run
 * held for a warm resume); at the end, the program's result, which a session's program extends
 * with how its session goes on.
 *
 * Invariants:
 * - A state token the next step would refuse (over `maxStateBytes`) is never issued: the
 *   program ends instead, as any other end, with its output so far and why it stopped.
 * - A run is held only once its state is encoded and its batch answered.
 *
 * @module
 */
import type { ExecuteCodeStepRequest, ExecuteCodeStepResult, StepToolCall } from "../protocol.ts";
import { newId } from "../protocol.ts";
import { describeEnd } from "./end_reason.ts";
import type { Logger } from "./log.ts";
import type { Session } from "./session.ts";
import type { StateCodec, StepState } from "./state_token.ts";
import type { StepHolds } from "./step_holds.ts";
import { type StepRun, stepToolCall, type Stop } from "./step_run.ts";
import { programRecord, type StepSessionRef, type StepSessions } from "./step_session.ts";

/** One step's answer, and the session (execution) it belongs to. */
export interface StepAnswer {
  result: ExecuteCodeStepResult;
  /** The session id: the same for every step of one program's run, replays included. */
  session: string;
}

/** What a step's answer needs from its service. */
export interface StepResultContext {
  codec: StateCodec;
  /** Longest state token issued. */
  maxStateBytes: number;
  logger: Logger;
  /** Paused executions held for a warm resume. */
  holds: StepHolds;
  /** Sessions on the step API, when the server keeps them. */
  sessions: StepSessions | undefined;
  /** The session of each run that is a session's program. */
  sessionOf: WeakMap<StepRun, Session>;
}

/** Where a step paused: what its state carries, and what its log line says. */
export interface PausedAt {
  program: string;
  determinism: StepState["determinism"];
  step: number;
  ref: StepSessionRef | undefined;
  body: ExecuteCodeStepRequest;
  mode: string;
  sessionMode: string;
}

/** The step's log line so far: its fields, its duration and where it ran. */
export interface StepLog {
  fields: Record<string, unknown>;
  ms: string;
  where: string;
}

/** A step that stopped at a batch: its state, the execution held, the batch answered. */
export async function pauseStep(
  run: StepRun,
  stop: Extract<Stop, { kind: "batch" }>,
  at: PausedAt,
  log: StepLog,
  context: StepResultContext,
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
  const encoded = await context.codec.encode(state, context.maxStateBytes);
  if ("tooLarge" in encoded) {
    // A token the next step would refuse is never issued: the program ends as any other end,
    // with its output so far, and why it stopped.
    run.stop(
      "runtime_error",
      `Error: the step state (${encoded.tooLarge} bytes) would exceed the limit of ${context.maxStateBytes} bytes\n`,
      { code: "state_too_large" },
    );
    const end = await run.next();
    if (end.kind !== "end") throw new Error("A stopped step run did not end");
    return { result: await finalResult(run, end, ref, body, context), session: run.session };
  }
  const toolCalls = stop.calls.map((call): StepToolCall => stepToolCall(call));
  run.answered();
  context.holds.hold(run, hold, step);
  context.logger.info(
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

/** A run's final answer: a session program's says how its session goes on. */
export function finalResult(
  run: StepRun,
  end: Extract<Stop, { kind: "end" }>,
  ref: StepSessionRef | undefined,
  body: ExecuteCodeStepRequest,
  context: StepResultContext,
): Promise<ExecuteCodeStepResult> | ExecuteCodeStepResult {
  const session = context.sessionOf.get(run);
  if (!ref || !session) return end.result as ExecuteCodeStepResult;
  return context.sessions!.answer(session, ref.history, programRecord(body, run), {
    result: end.result,
    kept: run.kept,
    why: describeEnd(end.reason),
  });
}
