/**
 * The streaming API (`POST /execute-code`, `POST /tool-results`): one event stream per
 * execution, its tool calls out as frames and their results in as requests, as the reference.
 *
 * Invariants:
 * - The service owns its executions: it starts each, routes results to it by execution id, and
 *   forgets it when it ends (keeping its id a while, so that a late result is told apart from
 *   an unknown one).
 * - Every stream ends with exactly one terminal frame, whatever ended the execution; a client
 *   that leaves or stops reading ends its execution. A stream holds at most `maxBufferedBytes`
 *   for its client, the terminal frame included (room for it is kept), and is cut when it is
 *   still unread `unreadTimeoutMs` after its execution ended.
 *
 * @module
 */
import type { Context, Span } from "@opentelemetry/api";
import type {
  ExecuteCodeRequest,
  ExecuteCodeResult,
  Language,
  ToolResultRequest,
} from "../protocol.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import { runMessage } from "../runner/run_message.ts";
import { jsonOverLimit, resultTooLarge } from "./body.ts";
import type { AdmissionGate } from "./admission_gate.ts";
import { describeEnd } from "./end_reason.ts";
import { Execution, type ExecutionEnd } from "./execution.ts";
import type { ByteBudget } from "./byte_budget.ts";
import { type Limits, terminalFrameBytes } from "./limits.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import type { SessionProgram, SessionRequest, SessionService } from "./sessions.ts";
import { sessionProgramSource } from "./session_source.ts";
import { EventStream } from "./sse.ts";
import { contextOf, endSpan, instruments, startSpan } from "./telemetry.ts";

/** What the streaming service needs from its application. */
export interface StreamServiceOptions {
  /** Who may run now: leases an execution slot, memory and a sandbox, or throws a problem. */
  admission: AdmissionGate;
  limits: Limits;
  language: Language;
  /** Bytes an event stream may hold for a client that does not read, its terminal frame included. */
  maxBufferedBytes: number;
  /** How long an ended execution's stream may stay unread before it is cut, in ms. */
  unreadTimeoutMs: number;
  /** The server's budget of bytes held for clients. */
  budget: ByteBudget;
  /** The server's sessions (none: requests that name one are refused). */
  sessions?: SessionService;
  logger: Logger;
}

/** Where a program runs: a sandbox of its own, or its session's. */
interface Admitted {
  sandbox: Sandbox;
  release(): void;
  program?: SessionProgram;
}

/** How many ended executions are remembered (to answer late results as the reference). */
const ENDED_MEMORY = 4096;

/** Runs `/execute-code` and `/tool-results` requests. */
export class StreamService {
  #options: StreamServiceOptions;
  #executions = new Map<string, Execution>();
  #ended = new Set<string>();
  /** Open tool-call spans by wire call id, with when the call was sent. */
  #calls = new Map<string, { span: Span; sentAt: number }>();

  constructor(options: StreamServiceOptions) {
    this.#options = options;
  }

  /** Executions running now. */
  get running(): number {
    return this.#executions.size;
  }

  /**
   * Starts a program (in `session`, if the request names one) and answers with its event
   * stream; its spans go under `parent`.
   */
  async execute(
    body: ExecuteCodeRequest,
    parent: Context,
    session?: SessionRequest,
  ): Promise<Response> {
    const sessions = this.#options.sessions;
    const fallback = this.#options.language;
    const language = session && sessions
      ? sessions.languageOf(session, body.language, fallback)
      : body.language ?? fallback;
    const code = session ? await sessionProgramSource(body.code, language) : body.code;
    const { sandbox, release, program } = await this.#admit(session, body.language, parent);
    const span = startSpan("progtc.execution", parent, {
      "progtc.language": language,
      "progtc.api": "stream",
    });
    const inside = contextOf(span, parent);
    const callIds: string[] = [];
    const events = new EventStream({
      maxBufferedBytes: this.#options.maxBufferedBytes,
      terminalReserveBytes: terminalFrameBytes(this.#options.limits),
      unreadTimeoutMs: this.#options.unreadTimeoutMs,
      budget: this.#options.budget,
      onCancel: () => execution.cancel("the client disconnected"),
      onOverflow: () => execution.cancel("the client does not read its event stream"),
    });
    const execution: Execution = new Execution(sandbox, body.tool_names, this.#options.limits, {
      toolCall: (call) => {
        callIds.push(call.id);
        this.#calls.set(call.id, {
          span: startSpan("progtc.tool_call", inside, {
            "progtc.tool": call.tool_name,
            "progtc.execution_id": call.execution_id,
          }),
          sentAt: performance.now(),
        });
        events.send(call);
      },
      ...(body.stream_output
        ? { output: (stream, data) => events.send({ type: stream, data }) }
        : {}),
      end: (result, reason) => {
        const why = describeEnd(reason);
        release();
        // The session is idle (or ended) before its client hears the end and sends the next.
        program?.session.after(execution.kept, why);
        events.sendLast(program ? sessionEnd(program, execution.kept, why, result) : result);
        this.#forget(execution.id);
        for (const id of callIds) this.#endCall(id, "unanswered");
        endSpan(span, result.type, {
          "progtc.execution_id": execution.id,
          "progtc.why": why,
          "progtc.end": reason.code,
          "progtc.tool_calls": execution.toolCalls,
        });
        instruments.executions.add(1, { outcome: result.type, language, api: "stream" });
        const ms = (performance.now() - execution.startedAt).toFixed(1);
        this.#options.logger.info(
          `execution ${execution.id} ${result.type} (${why}) ${ms} ms, ${execution.toolCalls} tool calls, sandbox ${sandbox.pid} run ${
            sandbox.runs + 1
          }${program ? `, session ${program.session.id}` : ""}`,
          {
            event: "execution",
            execution_id: execution.id,
            language,
            outcome: result.type,
            why,
            end: reason.code,
            duration_ms: Number(ms),
            tool_calls: execution.toolCalls,
            sandbox_pid: sandbox.pid,
            sandbox_run: sandbox.runs + 1,
            ...(program ? { session_id: program.session.id } : {}),
          },
        );
      },
    }, this.#options.budget);
    this.#executions.set(execution.id, execution);
    execution.start(
      runMessage(language, code, body.tool_names, {
        ...this.#options.limits,
        reportIdle: false,
        returnValue: body.return_value,
        modules: body.modules,
        session: program !== undefined,
      }),
    );
    return new Response(events.stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
        "x-progtc-execution-id": execution.id,
        ...(program ? { "x-progtc-session": program.session.id } : {}),
      },
    });
  }

  /** Admits the program: a sandbox of its own, or its session's. */
  async #admit(
    session: SessionRequest | undefined,
    language: Language | undefined,
    parent: Context,
  ): Promise<Admitted> {
    const fallback = this.#options.language;
    if (!session) return await this.#options.admission.admit(language ?? fallback, parent);
    const sessions = this.#options.sessions;
    if (!sessions) {
      throw new HttpProblem(400, "invalid_session", "This server does not keep sessions");
    }
    const program = await sessions.program(session, language, fallback, parent);
    return { sandbox: program.sandbox, release: program.release, program };
  }

  /**
   * Delivers a tool's result to its execution. `strict`: answer 409 to a result nobody waits
   * for (our client asks so); the reference answers 200, and its client fails on any error.
   */
  result(body: ToolResultRequest, bodyBytes: number, strict: boolean): Response {
    const notPending = (detail: string) => {
      if (!strict) return Response.json(null);
      throw new HttpProblem(409, "tool_call_not_pending", detail);
    };
    const execution = this.#executions.get(body.execution_id);
    if (!execution) {
      if (this.#ended.has(body.execution_id)) return notPending("The execution has already ended");
      throw new HttpProblem(404, "unknown_execution", `No execution ${body.execution_id}`);
    }
    const limit = this.#options.limits.maxToolResultBytes;
    const size = body.error === undefined
      ? jsonOverLimit(body.result, limit, bodyBytes)
      : undefined;
    const status = execution.deliver(
      body.tool_call_id,
      size !== undefined
        ? { error: resultTooLarge(size, limit) }
        : body.error !== undefined
        ? { error: body.error }
        : { value: body.result ?? null },
    );
    if (status === "unknown") {
      throw new HttpProblem(404, "unknown_tool_call", `No tool call ${body.tool_call_id}`);
    }
    if (status !== "not_pending") {
      this.#endCall(body.tool_call_id, body.error !== undefined ? "tool_error" : "ok");
    }
    if (status === "not_pending") {
      return notPending("The tool call was already answered or timed out");
    }
    if (size !== undefined) {
      throw new HttpProblem(
        413,
        "result_too_large",
        `${resultTooLarge(size, limit)}; the program sees a ToolError`,
      );
    }
    return Response.json(null);
  }

  /** Ends every running execution; resolves when their sandboxes are released. */
  close(): Promise<void> {
    const live = [...this.#executions.values()];
    for (const execution of live) execution.cancel("the server is shutting down");
    return Promise.all(live.map((execution) => execution.stopped)).then(() => {});
  }

  #endCall(id: string, outcome: string): void {
    const call = this.#calls.get(id);
    if (!call) return;
    this.#calls.delete(id);
    const ms = performance.now() - call.sentAt;
    endSpan(call.span, outcome, { "progtc.duration_ms": ms });
    instruments.toolCallDuration.record(ms, { outcome });
  }

  #forget(id: string): void {
    this.#executions.delete(id);
    this.#ended.add(id);
    if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.values().next().value!);
  }
}

/** A session program's terminal frame: the session's id, and whether the program ended it. */
function sessionEnd(
  program: SessionProgram,
  kept: boolean,
  why: string,
  result: ExecutionEnd,
): ExecutionEnd & Pick<ExecuteCodeResult, "session_id" | "session_ended"> {
  const { session } = program;
  const frame: ExecutionEnd & Pick<ExecuteCodeResult, "session_id" | "session_ended"> = {
    ...result,
    session_id: session.id,
  };
  if (kept) return frame;
  frame.session_ended = true;
  frame.stderr += `[progtc: session ${session.id} ended with this program (${why}): ` +
    `what its programs defined is gone]\n`;
  return frame;
}
