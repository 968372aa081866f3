/**
 * The run a step continues: the held execution its state names, resumed (warm), or the request's
 * program run from the start (a first step, or a replay with the state's records and this
 * request's results), in a sandbox of its own or in its session's realm, kept or rebuilt.
 *
 * Invariants:
 * - A held execution is resumed only once a slot is leased and only while it is still the one
 *   the state names (its hold may have ended, or gone to a retry, while the slot was awaited):
 *   otherwise the slot is released and the program replays.
 * - A replay answers the calls of the state's records and of this request's results, by call
 *   key; a replay of a session's program rebuilds its realm at the history before it.
 *
 * @module
 */
import type { ExecuteCodeStepRequest, Language } from "../protocol.ts";
import { newId } from "../protocol.ts";
import { runMessage } from "../runner/run_message.ts";
import type { Context } from "@opentelemetry/api";
import type { AdmissionGate } from "./admission_gate.ts";
import type { ByteBudget } from "./byte_budget.ts";
import { describeEnd } from "./end_reason.ts";
import type { ToolOutcome } from "./execution.ts";
import type { Limits } from "./limits.ts";
import type { Session } from "./session.ts";
import { sessionProgramSource } from "./session_source.ts";
import type { StepRecord, StepState } from "./state_token.ts";
import type { StepHolds } from "./step_holds.ts";
import { record } from "./call_key.ts";
import { StepRun } from "./step_run.ts";
import type { StepSessionRef, StepSessions } from "./step_session.ts";

/** What starting a step's run needs from its service. */
export interface StepStartContext {
  /** Leases a slot, memory and a sandbox (or a slot only, to resume a held execution). */
  admission: AdmissionGate;
  limits: Limits;
  /** Bytes of JSON the tool calls of one step answer may take. */
  maxAnswerBytes: number;
  /** The server's bytes held for clients. */
  budget: ByteBudget;
  /** Paused executions held for a warm resume. */
  holds: StepHolds;
  /** Sessions on the step API, when the server keeps them. */
  sessions: StepSessions | undefined;
  /** The session of each run that is a session's program (a new one is added). */
  sessionOf: WeakMap<StepRun, Session>;
}

/** What a step starts from: its state, its session, its program and this request's answers. */
export interface StepFrom {
  previous: StepState | undefined;
  ref: StepSessionRef | undefined;
  language: Language;
  program: string;
  pending: { k: string; h: string }[];
  outcomes: ToolOutcome[];
  results: unknown[];
}

/** The run a step continues, and how it got it (for the log). */
export interface StepStart {
  run: StepRun;
  mode: "start" | "warm" | "replay";
  sessionMode: string;
}

/**
 * The run a step continues: the held execution its state names (warm), or the program from
 * the start (a first step, or a replay with the state's records and this request's results).
 */
export async function startStep(
  body: ExecuteCodeStepRequest,
  parent: Context,
  from: StepFrom,
  context: StepStartContext,
): Promise<StepStart> {
  const { previous, ref, language, program, pending, outcomes, results } = from;
  const holds = context.holds;
  let held = previous && results.length > 0 ? holds.find(previous, program) : undefined;
  let release: (() => void) | undefined;
  if (held) {
    // The slot first: a step refused for capacity leaves the execution held.
    release = await context.admission.slot();
    // While this waited, the hold may have ended (its memory reclaimed for a new execution,
    // its TTL, a newer hold of the step) or gone to a retry of this request: replay then.
    if (holds.find(previous!, program) !== held) {
      release();
      held = undefined;
    }
  }
  if (held) {
    holds.take(previous!.hold);
    held.resume(outcomes, release!);
    return { run: held, mode: "warm", sessionMode: "" };
  }
  const records = new Map<string, StepRecord>(Object.entries(previous?.records ?? {}));
  if (results.length > 0) {
    pending.forEach((p, i) => records.set(p.k, record(p.h, outcomes[i]!)));
  }
  const fresh = await newRun(
    body,
    { previous, ref, language, program, records },
    parent,
    context,
  );
  return { run: fresh.run, mode: previous ? "replay" : "start", sessionMode: fresh.sessionMode };
}

/**
 * Starts the request's program from the start (a first step, or a replay): in a sandbox of
 * its own, or in its session's realm, kept or rebuilt.
 */
async function newRun(
  body: ExecuteCodeStepRequest,
  from: {
    previous: StepState | undefined;
    ref: StepSessionRef | undefined;
    language: Language;
    program: string;
    records: Map<string, StepRecord>;
  },
  parent: Context,
  context: StepStartContext,
): Promise<{ run: StepRun; sessionMode: string }> {
  const { previous, ref, language } = from;
  const code = ref ? await sessionProgramSource(body.code, language) : body.code;
  // A replay of a session's program needs a realm at the history before it: rebuilt.
  const admitted = ref
    ? await context.sessions!.admit(previous ? { history: ref.history } : ref, parent)
    : undefined;
  const lease = admitted ?? await context.admission.admit(language, parent);
  const run = new StepRun(lease, {
    session: previous?.session ?? newId(),
    program: from.program,
    records: from.records,
    determinism: previous?.determinism ?? body.determinism ?? "strict",
    toolNames: body.tool_names,
    limits: context.limits,
    maxAnswerBytes: context.maxAnswerBytes,
    budget: context.budget,
    ...(admitted
      ? { ended: (kept, reason) => admitted.session.after(kept, describeEnd(reason)) }
      : {}),
  });
  if (admitted) context.sessionOf.set(run, admitted.session);
  run.start(
    runMessage(language, code, body.tool_names, {
      ...context.limits,
      reportIdle: true,
      returnValue: body.return_value,
      modules: body.modules,
      session: admitted !== undefined,
    }),
  );
  return { run, sessionMode: admitted ? `, session ${admitted.mode}` : "" };
}
