/**
 * One execution of one program in one sandbox: sends it the program, keeps its output within the
 * output limit, enforces the per-execution timeout, and ends exactly once, whatever happens. Its
 * tool calls (wire ids, per-call timeouts, the call limits) are kept by {@linkcode ExecutionCalls}
 * (`execution_calls.ts`); what each event that ends it makes of its end is `execution_end.ts`.
 *
 * Invariants:
 * - `sink.end` is called exactly once; nothing reaches the sink after it.
 * - When the execution ends, every timer is cleared and the sandbox is finished: reusable only
 *   when the program ended by itself without crossing a limit, killed otherwise.
 * - A wire id is answered at most once: a second answer, or one after the call timed out or
 *   the execution ended, is refused (`not_pending`) and changes nothing.
 * - Everything the sandbox sends is checked, and every limit is measured once, on what arrived,
 *   in UTF-8 bytes of the JSON the client gets (`execution_calls.ts` for the calls, and for what
 *   is a violation there). More output than the runners forward past the limit, or an empty
 *   output, is a violation that ends the execution (a program can write protocol lines itself).
 *   Output is kept up to `maxOutputBytes`.
 *
 * @module
 */
import { type JsonValue, newId } from "../protocol.ts";
import type { Sandbox, SandboxEvent } from "../runner/sandbox.ts";
import type { RunRequest } from "../sandbox/messages.ts";
import { OUTPUT_PIECE_UNITS } from "../sandbox/program_messages.ts";
import { jsonLength } from "../sandbox/text.ts";
import { type ByteBudget, UNLIMITED } from "./byte_budget.ts";
import type { EndReason } from "./end_reason.ts";
import {
  type CallSink,
  type DeliverStatus,
  ExecutionCalls,
  type ToolOutcome,
} from "./execution_calls.ts";
import { endingOf, type EndType, type ExecutionEnd, timeoutEnding } from "./execution_end.ts";
import type { Limits } from "./limits.ts";

export type { DeliverStatus, KeyedToolCall, ToolOutcome } from "./execution_calls.ts";
export type { EndType, ExecutionEnd } from "./execution_end.ts";

/** Where an execution reports: its calls ({@linkcode CallSink}), its output, its end. */
export interface ExecutionSink extends CallSink {
  output?(stream: "stdout" | "stderr", data: string): void;
  end(result: ExecutionEnd, reason: EndReason): void;
}

/** One running program. */
export class Execution {
  readonly id: string = newId();
  readonly startedAt: number = performance.now();
  #sandbox: Sandbox;
  /** The server's bytes held for clients: the output this execution keeps is in it. */
  #budget: ByteBudget;
  #limits: Limits;
  #sink: ExecutionSink;
  #calls: ExecutionCalls;
  #stdout = "";
  #stderr = "";
  #outputBytes = 0;
  #truncated = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  #wantsValue = false;
  #run: RunRequest | undefined;
  /** Output bytes the sandbox sent, kept or not. */
  #outputReceived = 0;
  /** The program is a session's: keep its realm if it ends by itself. */
  #session = false;
  #kept = false;

  constructor(
    sandbox: Sandbox,
    toolNames: string[],
    limits: Limits,
    sink: ExecutionSink,
    budget: ByteBudget = UNLIMITED,
  ) {
    this.#budget = budget;
    this.#sandbox = sandbox;
    this.#limits = limits;
    this.#sink = sink;
    this.#calls = new ExecutionCalls({
      executionId: this.id,
      sandbox,
      toolNames,
      limits,
      sink,
      violation: (detail) => this.#violation(detail),
    });
  }

  /** Tool calls the program made. */
  get toolCalls(): number {
    return this.#calls.count;
  }

  /** The sandbox this execution runs in. */
  get sandbox(): Sandbox {
    return this.#sandbox;
  }

  /** Resolves once the execution no longer holds its sandbox (reused, kept or killed). */
  get stopped(): Promise<void> {
    return this.#kept ? Promise.resolve() : this.#sandbox.released;
  }

  /** A session's program ended by itself: its realm was kept for the session's next. */
  get kept(): boolean {
    return this.#kept;
  }

  /** Whether the execution has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Sends the program to the sandbox and starts the execution timeout. It bounds the wait for a
   * worker too; once a worker takes the program, the program has its whole timeout to run.
   */
  start(run: RunRequest): void {
    this.#wantsValue = run.returnValue;
    this.#run = run;
    this.#session = run.session === true;
    this.restartClock();
    this.#sandbox.listen((event) => this.#onEvent(event));
    this.#sandbox.send(run);
  }

  /** Delivers the client's answer to a tool call. */
  deliver(toolCallId: string, outcome: ToolOutcome): DeliverStatus {
    return this.#calls.deliver(toolCallId, outcome);
  }

  /**
   * Delivers answers to several calls in one message: the program runs again only once all of
   * them are settled (a step's batch). Calls that are not pending are skipped.
   */
  deliverAll(answers: { toolCallId: string; outcome: ToolOutcome }[]): void {
    this.#calls.deliverAll(answers);
  }

  /**
   * Ends the execution because its client left, the server stops or no longer holds it; its
   * program is stopped. `why` is also the error the program's stderr ends with.
   */
  cancel(why: string): void {
    this.#end("runtime_error", `Error: ${why}\n`, { code: "cancelled", detail: why });
  }

  /** Ends the execution with `type`, appending `error` to its stderr. */
  stop(type: EndType, error: string, reason: EndReason): void {
    this.#end(type, error, reason);
  }

  /** Stops the execution clock while the program waits for its client (step API). */
  pauseClock(): void {
    clearTimeout(this.#timer);
  }

  /** Restarts the execution clock with the full budget (a new step). */
  restartClock(): void {
    clearTimeout(this.#timer);
    if (!this.#ended) {
      this.#timer = setTimeout(() => this.#timeout(), this.#limits.executionTimeoutMs);
    }
  }

  #onEvent(event: SandboxEvent): void {
    if (this.#ended) return;
    switch (event.type) {
      case "started":
        // A worker took the program: its clock runs from now on, not from when it was sent.
        return this.restartClock();
      case "tool_call":
        return this.#calls.receive(event, this.#session);
      case "output":
        return this.#onOutput(event.stream, event.data);
      case "idle":
        return this.#calls.idle(event.pending);
      default: {
        const { type, error, reason, value } = endingOf(event, {
          run: this.#run,
          wantsValue: this.#wantsValue,
          limits: this.#limits,
        });
        return this.#end(type, error, reason, value);
      }
    }
  }

  #onOutput(stream: "stdout" | "stderr", data: string): void {
    if (data === "") return this.#violation("an empty output message");
    // Counted as it travels in a frame (JSON-escaped), so that the terminal frame is bounded.
    const bytes = jsonLength(data);
    this.#outputReceived += bytes;
    if (this.#truncated) {
      // The runners forward up to the limit and the piece that crosses it (counted as here),
      // whatever cut the output here; more than that is forged.
      const most = this.#limits.maxOutputBytes + 6 * OUTPUT_PIECE_UNITS;
      if (this.#outputReceived > most) this.#violation("output after the output limit");
      return;
    }
    const over = this.#outputBytes + bytes > this.#limits.maxOutputBytes;
    if (over || !this.#budget.take(bytes)) {
      this.#truncated = true;
      const marker = over
        ? `\n[progtc: output truncated, the limit is ${this.#limits.maxOutputBytes} bytes]\n`
        : "\n[progtc: output truncated, the server holds too much output for its clients]\n";
      this.#append(stream, marker);
      return;
    }
    this.#outputBytes += bytes;
    this.#append(stream, data);
  }

  #append(stream: "stdout" | "stderr", data: string): void {
    if (stream === "stdout") this.#stdout += data;
    else this.#stderr += data;
    this.#sink.output?.(stream, data);
  }

  #violation(detail: string): void {
    this.#onEvent({ type: "violation", detail });
  }

  /**
   * The clock ran out. The end comes one turn of the event loop later: a server busy or
   * descheduled past the deadline runs its expired timers before it reads its sockets, and the
   * program's output already waiting in its host's socket is read first, so it is kept.
   */
  #timeout(): void {
    this.#timer = setTimeout(() => {
      const { type, error, reason } = timeoutEnding(this.#limits, this.#sandbox.started);
      this.#end(type, error, reason);
    }, 0);
  }

  /** Ends once. */
  #end(type: EndType, error: string, reason: EndReason, value?: JsonValue): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#calls.close();
    this.#kept = this.#session && this.#sandbox.keep();
    if (!this.#kept) this.#sandbox.finish();
    // Held from now on by whoever sends the result (an event stream takes its terminal frame).
    this.#budget.give(this.#outputBytes);
    const end: ExecutionEnd = { type, stdout: this.#stdout, stderr: this.#stderr + error };
    if (value !== undefined) end.value = value;
    this.#sink.end(end, reason);
  }
}
