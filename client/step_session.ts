/**
 * A session on the step API, as the client sees it: its programs run one after another, each
 * driven step by step (the server answers with tool calls, the client runs them and sends the
 * results), and what one defines at its top level the next can use. Between programs the
 * session lives in a signed `session_state` the client carries, so any server that shares the
 * key can continue it (after a restart, a deploy, or behind a load balancer without affinity).
 * Made by {@linkcode ProgtcClient.session} with `api: "step"`.
 *
 * @module
 */
import type { DeterminismError, ExecuteCodeResult, ExecuteCodeStepResult } from "../protocol.ts";
import { type ExecuteCodeStepOptions, runStepToolCalls } from "./execute_step.ts";
import { ProgtcProtocolError } from "./errors.ts";
import type { SessionOptions, SessionProgramOptions } from "./session.ts";
import type { Tool } from "./tools.ts";

/** Runs one step (the client's `executeCodeStep`). */
export type StepRunner = (options: ExecuteCodeStepOptions) => Promise<ExecuteCodeStepResult>;

/** Options of {@linkcode ProgtcClient.session} for the step API. */
export interface StepSessionOptions extends SessionOptions {
  /** Run the session's programs over the step API (`/execute-code-step`). */
  api: "step";
  /**
   * Continue the session this `session_state` records (a {@linkcode ProgtcStepSession.state}
   * kept from before), instead of opening one.
   */
  state?: string;
}

/** The options of a step session's program. */
export type StepSessionProgramOptions =
  & Pick<SessionProgramOptions, "code" | "tools" | "returnValue" | "signal" | "onToolCall">
  & Pick<ExecuteCodeStepOptions, "determinism">;

/** How a step session's program ended. */
export type StepSessionResult = ExecuteCodeResult | DeterminismError;

/** Programs of one session run over the step API, one at a time, in order. */
export class ProgtcStepSession {
  #step: StepRunner;
  #options: StepSessionOptions;
  #id: string | undefined;
  #state: string | undefined;
  #ended = false;
  #last: Promise<unknown> = Promise.resolve();

  /** @ignore Made by `ProgtcClient.session`. */
  constructor(step: StepRunner, options: StepSessionOptions) {
    this.#step = step;
    this.#options = options;
    this.#id = options.id;
    this.#state = options.state;
  }

  /** The session's id: the one given, or the server's once its first program ended. */
  get id(): string | undefined {
    return this.#id;
  }

  /**
   * The session's state after its last program: keep it to continue the session later, on any
   * server that shares the key (`client.session({ api: "step", state })`).
   */
  get state(): string | undefined {
    return this.#state;
  }

  /** Whether a program ended the session (its result says `session_ended`). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Runs the session's next program step by step, its tools called here, after the ones
   * before it have ended. Throws {@linkcode ProgtcHttpError} when the server refuses it (for
   * example `session_rebuild_failed`, `state_expired`).
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const session = client.session({ api: "step" });
   * await session.executeCode({ code: "const rows = [1, 2, 3];", tools: {} });
   * const result = await session.executeCode({ code: "console.log(rows.length);", tools: {} });
   * console.log(result.stdout); // 3
   * ```
   */
  executeCode(options: StepSessionProgramOptions): Promise<StepSessionResult> {
    const next = this.#last.then(() => this.#program(options));
    this.#last = next.catch(() => {});
    return next;
  }

  async #program(options: StepSessionProgramOptions): Promise<StepSessionResult> {
    if (this.#ended) {
      throw new ProgtcProtocolError("The session has ended: a program ended it");
    }
    const base = {
      code: options.code,
      toolNames: Object.keys(options.tools),
      ...(this.#options.language ? { language: this.#options.language } : {}),
      ...(options.returnValue ? { returnValue: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    let result = await this.#step({
      ...base,
      ...(options.determinism ? { determinism: options.determinism } : {}),
      ...(this.#state !== undefined
        ? { sessionState: this.#state }
        : { session: this.#id ? `new:${this.#id}` : "new" }),
    });
    while (result.type === "tool_call") {
      for (const call of result.tool_calls) options.onToolCall?.(call);
      const answers = await runStepToolCalls(
        result.tool_calls,
        options.tools as Record<string, Tool>,
      );
      result = await this.#step({ ...base, state: result.state, ...answers });
    }
    if (result.session_id === undefined) {
      throw new ProgtcProtocolError("The server ran the program outside a session: it keeps none");
    }
    this.#id = result.session_id;
    if (result.session_ended || !("session_state" in result) || !result.session_state) {
      this.#ended = true;
      this.#state = undefined;
    } else {
      this.#state = result.session_state;
    }
    return result;
  }
}
