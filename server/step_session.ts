/**
 * Sessions on the step API: a session is always reconstructible from its signed session state
 * (`session_state.ts`); a realm this instance keeps is only a cache of it.
 *
 * Invariants:
 * - A program of a session runs in a realm at exactly the session's history: the idle realm
 *   this instance kept when it issued the session state the request names (`live`), taken by
 *   one request at most; otherwise a new one, rebuilt by replaying the history
 *   (`session_rebuild.ts`). A fork (the same session state twice) thus rebuilds, and each
 *   branch continues from its own realm.
 * - A new or rebuilt realm is a session of the server (`SessionService.openStep`): admitted
 *   like one, counted against `--max-sessions`, given back when memory is short.
 * - A rebuild that fails ends its realm and answers `409 session_rebuild_failed`, saying which
 *   program and call; nothing of the request's program ran.
 * - A program that ends by itself with its realm kept gets the next session state, with itself
 *   recorded; one that crossed a limit, broke the determinism rule, or would make the session
 *   state too large (`--max-state-bytes`) or too long (`--max-session-programs`) ends the
 *   session (`session_ended: true`, no session state), as on the streaming API.
 *
 * @module
 */
import type { Context } from "@opentelemetry/api";
import type { ExecuteCodeStepRequest, ExecuteCodeStepResult, Language } from "../protocol.ts";
import { newId } from "../protocol.ts";
import type { ByteBudget } from "./byte_budget.ts";
import type { ExecutionEnd } from "./execution.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import type { Session } from "./session.ts";
import { rebuildSession } from "./session_rebuild.ts";
import { loadSessionParser, sessionSource } from "./session_source.ts";
import type { SessionHistory, SessionProgramRecord } from "./session_state.ts";
import type { SessionRequest, SessionService, StepSessionProgram } from "./sessions.ts";
import { type StateCodec, stateProblem, StateTokenError } from "./state_token.ts";
import type { StepRun } from "./step_run.ts";

/** Options of {@linkcode StepSessions}. */
export interface StepSessionsOptions {
  sessions: SessionService;
  codec: StateCodec;
  limits: Limits;
  budget: ByteBudget;
  /** Longest session state issued or accepted, in bytes of JSON. */
  maxStateBytes: number;
  /** Oldest session state accepted, in ms. */
  stateMaxAgeMs: number;
  /** Programs a session state may record (and a rebuild replay). */
  maxPrograms: number;
  logger: Logger;
}

/** The session a step program runs in: the programs before it, and the realm its state named. */
export interface StepSessionRef {
  history: SessionHistory;
  /** The realm the issuing instance kept at this history (absent: none, or a later step). */
  live?: string;
}

/** A session program admitted: where it runs, and how its realm was found. */
export interface AdmittedSessionProgram extends StepSessionProgram {
  mode: "new" | "live" | "rebuilt";
}

/** Runs the step API's programs in sessions. */
export class StepSessions {
  #options: StepSessionsOptions;

  constructor(options: StepSessionsOptions) {
    this.#options = options;
  }

  /**
   * The session a step's program runs in: the one its pause state carries (`carried`), or for
   * a first step the one it names (see {@linkcode StepSessions.open}). Throws a problem.
   */
  async ref(
    body: ExecuteCodeStepRequest,
    carried: SessionHistory | undefined,
    session: SessionRequest | undefined,
    fallback: Language,
  ): Promise<StepSessionRef | undefined> {
    const ref = carried
      ? { history: carried }
      : await this.open(session, body.session_state, body.language ?? fallback);
    if (ref && body.language !== undefined && body.language !== ref.history.language) {
      throw new HttpProblem(
        400,
        "session_language",
        `Session ${ref.history.id} runs ${ref.history.language}, not ${body.language}`,
      );
    }
    return ref;
  }

  /**
   * The session of a program's first step: a new one (`session: new|new:<id>`), or the one its
   * `session_state` records (`session`, if given too, must be its id). Throws a problem for a
   * request it refuses; undefined when the request names no session.
   */
  async open(
    request: SessionRequest | undefined,
    token: string | undefined,
    language: Language,
  ): Promise<StepSessionRef | undefined> {
    if (token === undefined) {
      if (!request) return undefined;
      if (!request.open) {
        throw new HttpProblem(
          400,
          "invalid_session",
          "On the step API a session's next program sends its `session_state`, not its id",
        );
      }
      return { history: { id: request.id ?? newId(), language, programs: [] } };
    }
    let state;
    try {
      state = await this.#options.codec.decodeSession(token, {
        maxStateBytes: this.#options.maxStateBytes,
        maxAgeMs: this.#options.stateMaxAgeMs,
      });
    } catch (error) {
      throw error instanceof StateTokenError ? stateProblem(error) : error;
    }
    if (request && (request.open || request.id !== state.id)) {
      throw new HttpProblem(
        400,
        "invalid_session",
        `The session state is session ${state.id}'s: send no other session with it`,
      );
    }
    const { live, iat: _, ...history } = state;
    return { history, live };
  }

  /**
   * Admits a program in its session's realm at exactly the session's history: the one this
   * instance kept (first steps only), or a new one, rebuilt. Throws a problem.
   */
  async admit(ref: StepSessionRef, parent: Context): Promise<AdmittedSessionProgram> {
    const { history } = ref;
    const kept = ref.live === undefined
      ? undefined
      : await this.#options.sessions.takeStep(ref.live, history.id);
    if (kept) return { ...kept, mode: "live" };
    if (history.programs.length > this.#options.maxPrograms) {
      throw new HttpProblem(
        409,
        "session_rebuild_failed",
        `Session ${history.id} cannot be rebuilt here: its ${history.programs.length} programs are more than this server replays (--max-session-programs ${this.#options.maxPrograms})`,
      );
    }
    const program = await this.#options.sessions.openStep(history.id, history.language, parent);
    if (history.programs.length === 0) return { ...program, mode: "new" };
    // The parser is loaded before any program's source is asked for.
    if (history.language !== "python") await loadSessionParser();
    const outcome = await rebuildSession(program.sandbox, history, {
      limits: this.#options.limits,
      budget: this.#options.budget,
      source: (code) =>
        history.language === "python"
          ? code
          : sessionSource(code, history.language === "javascript"),
    }).catch((error) => {
      this.#drop(program);
      throw error;
    });
    if (!outcome.ok) {
      this.#drop(program);
      this.#options.logger.info(`session ${history.id} rebuild failed: ${outcome.detail}`, {
        event: "session_rebuild",
        session_id: history.id,
        programs: history.programs.length,
        outcome: "failed",
      });
      throw new HttpProblem(
        409,
        "session_rebuild_failed",
        `Session ${history.id} could not be rebuilt from its state: ${outcome.detail}`,
      );
    }
    this.#options.logger.info(
      `session ${history.id} rebuilt: ${history.programs.length} programs in ${
        outcome.ms.toFixed(1)
      } ms`,
      {
        event: "session_rebuild",
        session_id: history.id,
        programs: history.programs.length,
        outcome: "ok",
        duration_ms: Number(outcome.ms.toFixed(1)),
      },
    );
    return { ...program, mode: "rebuilt" };
  }

  /** A realm that will not run its program: its slot back, its session ended. */
  #drop(program: StepSessionProgram): void {
    program.release();
    program.session.close({ code: "session_ended", detail: "it could not be rebuilt" });
  }

  /**
   * The final answer of a session's program: its session's id, and the next session state
   * (with `program` recorded), or `session_ended` when the program ended the session.
   */
  async answer(
    session: Session,
    history: SessionHistory,
    program: SessionProgramRecord,
    { result, kept, why }: { result: ExecutionEnd; kept: boolean; why: string },
  ): Promise<ExecuteCodeStepResult> {
    const frame = { ...result, session_id: session.id };
    const { maxPrograms, maxStateBytes } = this.#options;
    const programs = [...history.programs, program];
    let ended: string | undefined;
    if (!kept) ended = why;
    else if (result.type === "determinism_error") ended = "it broke the determinism rule";
    else if (programs.length > maxPrograms) {
      ended = `it is program ${programs.length}: more than --max-session-programs ${maxPrograms}`;
    }
    if (ended === undefined) {
      const live = this.#options.sessions.keepStep(session);
      const encoded = await this.#options.codec.encodeSession(
        { ...history, programs, live, iat: Date.now() },
        maxStateBytes,
      );
      if ("token" in encoded) return { ...frame, session_state: encoded.token };
      // A session state the next request would refuse is never issued.
      frame.type = "runtime_error";
      frame.stderr +=
        `Error: the session state (${encoded.tooLarge} bytes) would exceed the limit of ${maxStateBytes} bytes\n`;
      ended = "its state would be too large";
    }
    session.close({ code: "session_ended", detail: `its program ended it (${ended})` });
    return {
      ...frame,
      session_ended: true,
      stderr: `${frame.stderr}[progtc: session ${session.id} ended with this program (${ended}): ` +
        `what its programs defined is gone]\n`,
    } as ExecuteCodeStepResult;
  }
}

/** What a session state records of a program that ended: what replaying it needs. */
export function programRecord(
  body: ExecuteCodeStepRequest,
  run: Pick<StepRun, "determinism" | "records">,
): SessionProgramRecord {
  return {
    code: body.code,
    tools: body.tool_names,
    ...(body.modules && Object.keys(body.modules).length > 0 ? { modules: body.modules } : {}),
    determinism: run.determinism,
    records: Object.fromEntries(run.records),
  };
}
