/**
 * One execution of one program in one sandbox: maps the sandbox's tool calls to wire ids,
 * enforces the per-call and per-execution timeouts and the output and call limits, and ends
 * exactly once, whatever happens.
 *
 * Invariants:
 * - `sink.end` is called exactly once; nothing reaches the sink after it.
 * - When the execution ends, every timer is cleared and the sandbox is finished: reusable only
 *   when the program ended by itself without crossing a limit, killed otherwise.
 * - A wire id is answered at most once: a second answer, or one after the call timed out or
 *   the execution ended, is refused (`not_pending`) and changes nothing.
 * - Everything the sandbox sends is checked, and every limit is measured here, once, on what
 *   arrived, in UTF-8 bytes of the JSON the client gets: arguments over `maxToolArgsBytes` fail
 *   the call (`ToolError`), a return value over it ends the program. A call to a tool the program
 *   was not given, a reused call id, more messages than a program can cause (calls past twice
 *   the call limit, idle reports past twice the calls, output past the limit), calls not
 *   answered over `maxPendingCallChars` (their lines' lengths), or an empty output, is a
 *   violation that ends the execution (a program can write protocol lines itself).
 *   Output is kept up to `maxOutputBytes`, an error's text up to {@linkcode MAX_ERROR_BYTES}.
 *
 * @module
 */
import { type JsonValue, newId, type ToolCall } from "../protocol.ts";
import type { ReceivedToolCall, Sandbox, SandboxEvent, SandboxExit } from "../runner/sandbox.ts";
import {
  MAX_ERROR_BYTES,
  OUTPUT_PIECE_UNITS,
  type RunRequest,
  type ToolErrorMessage,
} from "../sandbox/messages.ts";
import { clipText, jsonLength, utf8Length } from "../sandbox/text.ts";
import { type ByteBudget, UNLIMITED } from "./byte_budget.ts";
import { languageHint } from "./hints.ts";
import type { EndReason } from "./end_reason.ts";
import type { Limits } from "./limits.ts";

/** How an execution ended. */
export type EndType =
  | "success"
  | "syntax_error"
  | "runtime_error"
  | "timeout_error"
  | "determinism_error";

/** The terminal result of an execution. */
export interface ExecutionEnd {
  type: EndType;
  stdout: string;
  stderr: string;
  /** The program's return value (success, when the run asked for it and there was one). */
  value?: JsonValue;
}

/** A tool call as the execution sees it: the wire frame and its call key. */
export interface KeyedToolCall extends ToolCall {
  frame_id: number[];
  call_index: number;
}

/** Where an execution reports. */
export interface ExecutionSink {
  /** A call the program made; `argsBytes`: its arguments and keyword arguments, as JSON. */
  toolCall(call: KeyedToolCall, argsBytes: number): void;
  output?(stream: "stdout" | "stderr", data: string): void;
  /**
   * The program waits on these calls (wire ids) and nothing else (only with `reportIdle`). An
   * answer still on its way to the program makes this stale: the program says it again.
   */
  idle?(pending: string[]): void;
  end(result: ExecutionEnd, reason: EndReason): void;
}

/**
 * The answer to a tool call: its value, a failure the program sees as `ToolError`, or a replayed
 * call that differs from the recorded one (`DeterminismError` in the program).
 */
export type ToolOutcome = { value: unknown } | { error: string } | { determinism: string };

/** What happened to a tool result. */
export type DeliverStatus = "ok" | "unknown" | "not_pending";

interface Call {
  sandboxId: number;
  name: string;
  /** Its line's length: what it takes of the bound of the calls not answered. */
  chars: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  pending: boolean;
}

/** One running program. */
export class Execution {
  readonly id: string = newId();
  readonly startedAt: number = performance.now();
  #sandbox: Sandbox;
  /** The server's bytes held for clients: the output this execution keeps is in it. */
  #budget: ByteBudget;
  #toolNames: Set<string>;
  #limits: Limits;
  #sink: ExecutionSink;
  #calls = new Map<string, Call>();
  #sandboxIds = new Set<number>();
  #stdout = "";
  #stderr = "";
  #outputBytes = 0;
  #truncated = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  #callCount = 0;
  #wantsValue = false;
  #run: RunRequest | undefined;
  #callMessages = 0;
  #idleMessages = 0;
  /** Characters of the program's calls received and not answered yet. */
  #pendingChars = 0;
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
    this.#toolNames = new Set(toolNames);
    this.#limits = limits;
    this.#sink = sink;
  }

  /** Tool calls the program made. */
  get toolCalls(): number {
    return this.#callCount;
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

  /** Sends the program to the sandbox and starts the execution timeout. */
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
    const call = this.#calls.get(toolCallId);
    if (!call) return "unknown";
    if (!call.pending || this.#ended) return "not_pending";
    this.#settle(call);
    this.#sandbox.send(answer(call.sandboxId, outcome));
    return "ok";
  }

  /**
   * Delivers answers to several calls in one message: the program runs again only once all of
   * them are settled (a step's batch). Calls that are not pending are skipped.
   */
  deliverAll(answers: { toolCallId: string; outcome: ToolOutcome }[]): void {
    if (this.#ended) return;
    const items = [];
    for (const { toolCallId, outcome } of answers) {
      const call = this.#calls.get(toolCallId);
      if (!call?.pending) continue;
      this.#settle(call);
      items.push(answer(call.sandboxId, outcome));
    }
    if (items.length > 0) this.#sandbox.send({ type: "tool_results", items });
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
      case "tool_call":
        return this.#onToolCall(event);
      case "output":
        return this.#onOutput(event.stream, event.data);
      case "idle":
        return this.#onIdle(event.pending);
      case "success": {
        if (!("value" in event) || !this.#wantsValue) {
          return this.#end("success", "", { code: "success" });
        }
        const bytes = utf8Length(JSON.stringify(event.value) ?? "null");
        if (bytes > this.#limits.maxToolArgsBytes) {
          const limit = this.#limits.maxToolArgsBytes;
          return this.#end(
            "runtime_error",
            `Error: the program's return value exceeds the limit of ${limit} bytes of JSON (${bytes} bytes)\n`,
            { code: "return_value_over_limit" },
          );
        }
        return this.#end("success", "", { code: "success" }, event.value as JsonValue);
      }
      case "syntax_error": {
        // Python sent as TypeScript (or the reverse) fails to parse: say so.
        const hint = this.#run ? languageHint(this.#run.code, this.#run.language) ?? "" : "";
        return this.#end(event.type, clipError(event.error) + hint, { code: event.type });
      }
      case "runtime_error":
      case "determinism_error":
        return this.#end(event.type, clipError(event.error), { code: event.type });
      case "exit":
        return event.code === 0
          ? this.#end("success", "", { code: "exit", exitCode: 0 })
          : this.#end(
            "runtime_error",
            `Error: the program exited with code ${event.code}\n`,
            { code: "exit", exitCode: event.code },
          );
      case "violation":
        return this.#end(
          "runtime_error",
          `Error: the sandbox was stopped because it broke the protocol (${event.detail})\n`,
          { code: "violation" },
        );
      case "out_of_memory":
        return this.#end("runtime_error", `${event.error}\n`, { code: "out_of_memory" });
      case "worker_error": {
        const error = clipError(event.error);
        return this.#end(
          "runtime_error",
          `Error: the program's worker failed: ${error}\n`,
          { code: "worker_error", detail: error },
        );
      }
      case "exited":
        return this.#onExited(event);
    }
  }

  #violation(detail: string): void {
    this.#onEvent({ type: "violation", detail });
  }

  #onIdle(pending: number[]): void {
    // A program reports idle at most once per change: a new call, or an answer.
    if (++this.#idleMessages > 2 * this.#callMessages + 16) {
      return this.#violation("more idle reports than its calls can cause");
    }
    if (pending.length > this.#calls.size) {
      return this.#violation("an idle report names calls it never made");
    }
    const ids: string[] = [];
    for (const [id, call] of this.#calls) {
      if (call.pending && pending.includes(call.sandboxId)) ids.push(id);
    }
    // A pending id the server never issued (a call over the limit) or already answered
    // makes the report stale: keep only what the program waits on.
    this.#sink.idle?.(ids.length === pending.length ? ids : []);
  }

  #onToolCall(received: ReceivedToolCall) {
    const { id: sandboxId, name, args, kwargs, frame, index, chars } = received;
    // In a session, a function an earlier program defined may call a tool this one was not
    // given: that call fails; elsewhere only a forged line names one.
    const unknown = !this.#toolNames.has(name);
    if ((unknown && !this.#session) || this.#sandboxIds.has(sandboxId)) {
      const detail = unknown
        ? `call to unknown tool ${JSON.stringify(name.slice(0, 128))}`
        : `reused call id ${sandboxId}`;
      return this.#violation(detail);
    }
    if (++this.#callMessages > 2 * this.#limits.maxToolCalls) {
      return this.#violation(`more than ${2 * this.#limits.maxToolCalls} tool calls`);
    }
    this.#sandboxIds.add(sandboxId);
    // Its worker sends no call past the bound until answers make room (counted as here: the
    // line's length from when it is sent until its answer is sent).
    this.#pendingChars += chars;
    if (this.#pendingChars > this.#limits.maxPendingCallChars) {
      return this.#violation(
        `tool calls not answered over ${this.#limits.maxPendingCallChars} characters`,
      );
    }
    const refuse = (message: string) => {
      this.#pendingChars -= chars;
      this.#sandbox.send({ type: "tool_error", id: sandboxId, name: "ToolError", message });
    };
    if (++this.#callCount > this.#limits.maxToolCalls) {
      return refuse(
        `Tool call limit exceeded: at most ${this.#limits.maxToolCalls} calls per execution`,
      );
    }
    if (unknown) {
      return refuse(`${name.slice(0, 128)}() is not one of this program's tools`);
    }
    // The limit is measured here, once, on what the client would get: the sandbox's own
    // serialisation may differ (Python writes 1e16 where JSON.stringify writes 17 digits).
    const argsBytes = utf8Length(JSON.stringify(args)) + utf8Length(JSON.stringify(kwargs));
    if (argsBytes > this.#limits.maxToolArgsBytes) {
      return refuse(
        `Arguments of ${name}() exceed the limit of ${this.#limits.maxToolArgsBytes} bytes of JSON (${argsBytes} bytes)`,
      );
    }
    const id = newId();
    const call: Call = { sandboxId, name, chars, timer: undefined, pending: true };
    if (Number.isFinite(this.#limits.toolCallTimeoutMs)) {
      call.timer = setTimeout(() => this.#callTimeout(call), this.#limits.toolCallTimeoutMs);
    }
    this.#calls.set(id, call);
    this.#sink.toolCall({
      type: "tool_call",
      id,
      execution_id: this.id,
      tool_name: name,
      args: args as JsonValue[],
      kwargs: kwargs as Record<string, JsonValue>,
      frame_id: frame,
      call_index: index,
    }, argsBytes);
  }

  #callTimeout(call: Call): void {
    if (!call.pending || this.#ended) return;
    this.#settle(call);
    const seconds = this.#limits.toolCallTimeoutMs / 1000;
    this.#sandbox.send({
      type: "tool_error",
      id: call.sandboxId,
      name: "TimeoutError",
      message: `Tool call ${call.name}() timed out after ${seconds} s`,
    });
  }

  #settle(call: Call): void {
    if (!call.pending) return;
    call.pending = false;
    clearTimeout(call.timer);
    this.#pendingChars -= call.chars;
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

  #onExited(exit: SandboxExit): void {
    // Programs share a host process: what ended it ended them all, whichever caused it.
    const others = exit.programs > 1
      ? ` (with the ${exit.programs - 1} other programs it ran)`
      : "";
    if (exit.outOfMemory) {
      this.#end(
        "runtime_error",
        others
          ? `RangeError: the sandbox process ran out of memory and was stopped${others}\n`
          : "RangeError: the program exceeded its memory limit and was stopped\n",
        { code: "out_of_memory" },
      );
    } else {
      const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
      // The runtime's own stderr names host paths: it goes to the server log, not the client.
      const last = exit.stderr.trim().split("\n").at(-1)?.slice(0, 200) ?? "";
      this.#end(
        "runtime_error",
        `Error: the sandbox stopped unexpectedly (${how})${others}\n`,
        { code: "crashed", how, detail: last },
      );
    }
  }

  #timeout(): void {
    const seconds = this.#limits.executionTimeoutMs / 1000;
    this.#end(
      "timeout_error",
      `TimeoutError: the program did not finish within ${seconds} s\n`,
      { code: "timeout" },
    );
  }

  /** Ends once. */
  #end(type: EndType, error: string, reason: EndReason, value?: JsonValue): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    for (const call of this.#calls.values()) this.#settle(call);
    this.#kept = this.#session && this.#sandbox.keep();
    if (!this.#kept) this.#sandbox.finish();
    // Held from now on by whoever sends the result (an event stream takes its terminal frame).
    this.#budget.give(this.#outputBytes);
    const end: ExecutionEnd = { type, stdout: this.#stdout, stderr: this.#stderr + error };
    if (value !== undefined) end.value = value;
    this.#sink.end(end, reason);
  }
}

function answer(id: number, outcome: ToolOutcome) {
  if ("value" in outcome) return { type: "tool_result" as const, id, value: outcome.value };
  const failure: ToolErrorMessage = "error" in outcome
    ? { type: "tool_error", id, name: "ToolError", message: outcome.error }
    : { type: "tool_error", id, name: "DeterminismError", message: outcome.determinism };
  return failure;
}

/** An error's text as the server keeps it: at most {@linkcode MAX_ERROR_BYTES}. */
function clipError(text: string): string {
  return clipText(text, MAX_ERROR_BYTES, "\n[progtc: error text truncated]\n");
}
