/**
 * The tool calls of one execution: each call the sandbox sends checked and given a wire id, its
 * per-call timeout, the call limit and the bound on calls not answered, the client's answers
 * delivered, and the program's idle reports mapped to wire ids.
 *
 * Invariants:
 * - A wire id is answered at most once: a second answer, or one after the call timed out or
 *   the calls were closed (the execution ended), is refused (`not_pending`) and changes nothing.
 * - A call to a tool the program was not given (outside a session), a reused call id, calls
 *   past twice the call limit, idle reports past twice the calls, or calls not answered over
 *   `maxPendingCallChars` (their lines' lengths), is a violation: the execution ends.
 * - Arguments over `maxToolArgsBytes` (UTF-8 bytes of the JSON the client gets) and calls past
 *   the call limit fail in the program (`ToolError`) and never reach the client.
 *
 * @module
 */
import { type JsonValue, newId, type ToolCall } from "../protocol.ts";
import type { ReceivedToolCall, Sandbox } from "../runner/sandbox.ts";
import type { ToolErrorMessage } from "../sandbox/messages.ts";
import { utf8Length } from "./utf8_length.ts";
import type { Limits } from "./limits.ts";

/** A tool call as the execution sees it: the wire frame and its call key. */
export interface KeyedToolCall extends ToolCall {
  frame_id: number[];
  call_index: number;
}

/**
 * The answer to a tool call: its value, a failure the program sees as `ToolError`, or a replayed
 * call that differs from the recorded one (`DeterminismError` in the program).
 */
export type ToolOutcome = { value: unknown } | { error: string } | { determinism: string };

/** What happened to a tool result. */
export type DeliverStatus = "ok" | "unknown" | "not_pending";

/** Where an execution reports its calls (part of its `ExecutionSink`). */
export interface CallSink {
  /** A call the program made; `argsBytes`: its arguments and keyword arguments, as JSON. */
  toolCall(call: KeyedToolCall, argsBytes: number): void;
  /**
   * The program waits on these calls (wire ids) and nothing else (only with `reportIdle`). An
   * answer still on its way to the program makes this stale: the program says it again.
   */
  idle?(pending: string[]): void;
}

/** What an execution's calls need from it. */
export interface ExecutionCallsOptions {
  /** The execution's id: every wire call names it. */
  executionId: string;
  /** Where answers and refusals go. */
  sandbox: Sandbox;
  /** The tools the program was given. */
  toolNames: string[];
  limits: Limits;
  sink: CallSink;
  /** Ends the execution: the sandbox broke the protocol. */
  violation(detail: string): void;
}

interface Call {
  sandboxId: number;
  name: string;
  /** Its line's length: what it takes of the bound of the calls not answered. */
  chars: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  pending: boolean;
}

/** One execution's tool calls, by wire id. */
export class ExecutionCalls {
  #options: ExecutionCallsOptions;
  #toolNames: Set<string>;
  #limits: Limits;
  #calls = new Map<string, Call>();
  #sandboxIds = new Set<number>();
  #callCount = 0;
  #callMessages = 0;
  #idleMessages = 0;
  /** Characters of the program's calls received and not answered yet. */
  #pendingChars = 0;
  #closed = false;

  constructor(options: ExecutionCallsOptions) {
    this.#options = options;
    this.#toolNames = new Set(options.toolNames);
    this.#limits = options.limits;
  }

  /** Tool calls the program made. */
  get count(): number {
    return this.#callCount;
  }

  /** Delivers the client's answer to a tool call. */
  deliver(toolCallId: string, outcome: ToolOutcome): DeliverStatus {
    const call = this.#calls.get(toolCallId);
    if (!call) return "unknown";
    if (!call.pending || this.#closed) return "not_pending";
    this.#settle(call);
    this.#options.sandbox.send(answer(call.sandboxId, outcome));
    return "ok";
  }

  /** Delivers answers to several calls in one message; calls that are not pending are skipped. */
  deliverAll(answers: { toolCallId: string; outcome: ToolOutcome }[]): void {
    if (this.#closed) return;
    const items = [];
    for (const { toolCallId, outcome } of answers) {
      const call = this.#calls.get(toolCallId);
      if (!call?.pending) continue;
      this.#settle(call);
      items.push(answer(call.sandboxId, outcome));
    }
    if (items.length > 0) this.#options.sandbox.send({ type: "tool_results", items });
  }

  /** The execution ended: every call is settled, and no answer is delivered any more. */
  close(): void {
    this.#closed = true;
    for (const call of this.#calls.values()) this.#settle(call);
  }

  /** The program reports it waits on `pending` (sandbox call ids) and nothing else. */
  idle(pending: number[]): void {
    // A program reports idle at most once per change: a new call, or an answer.
    if (++this.#idleMessages > 2 * this.#callMessages + 16) {
      return this.#options.violation("more idle reports than its calls can cause");
    }
    if (pending.length > this.#calls.size) {
      return this.#options.violation("an idle report names calls it never made");
    }
    const ids: string[] = [];
    for (const [id, call] of this.#calls) {
      if (call.pending && pending.includes(call.sandboxId)) ids.push(id);
    }
    // A pending id the server never issued (a call over the limit) or already answered
    // makes the report stale: keep only what the program waits on.
    this.#options.sink.idle?.(ids.length === pending.length ? ids : []);
  }

  /**
   * A call the program made. `session`: the program is a session's, so a call to a tool it was
   * not given fails in the program rather than breaking the protocol.
   */
  receive(received: ReceivedToolCall, session: boolean): void {
    const { id: sandboxId, name, args, kwargs, frame, index, chars } = received;
    // In a session, a function an earlier program defined may call a tool this one was not
    // given: that call fails; elsewhere only a forged line names one.
    const unknown = !this.#toolNames.has(name);
    if ((unknown && !session) || this.#sandboxIds.has(sandboxId)) {
      const detail = unknown
        ? `call to unknown tool ${JSON.stringify(name.slice(0, 128))}`
        : `reused call id ${sandboxId}`;
      return this.#options.violation(detail);
    }
    if (++this.#callMessages > 2 * this.#limits.maxToolCalls) {
      return this.#options.violation(`more than ${2 * this.#limits.maxToolCalls} tool calls`);
    }
    this.#sandboxIds.add(sandboxId);
    // Its worker sends no call past the bound until answers make room (counted as here: the
    // line's length from when it is sent until its answer is sent).
    this.#pendingChars += chars;
    if (this.#pendingChars > this.#limits.maxPendingCallChars) {
      return this.#options.violation(
        `tool calls not answered over ${this.#limits.maxPendingCallChars} characters`,
      );
    }
    const refuse = (message: string) => {
      this.#pendingChars -= chars;
      this.#options.sandbox.send({ type: "tool_error", id: sandboxId, name: "ToolError", message });
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
    this.#options.sink.toolCall({
      type: "tool_call",
      id,
      execution_id: this.#options.executionId,
      tool_name: name,
      args: args as JsonValue[],
      kwargs: kwargs as Record<string, JsonValue>,
      frame_id: frame,
      call_index: index,
    }, argsBytes);
  }

  #callTimeout(call: Call): void {
    if (!call.pending || this.#closed) return;
    this.#settle(call);
    const seconds = this.#limits.toolCallTimeoutMs / 1000;
    this.#options.sandbox.send({
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
}

function answer(id: number, outcome: ToolOutcome) {
  if ("value" in outcome) return { type: "tool_result" as const, id, value: outcome.value };
  const failure: ToolErrorMessage = "error" in outcome
    ? { type: "tool_error", id, name: "ToolError", message: outcome.error }
    : { type: "tool_error", id, name: "DeterminismError", message: outcome.determinism };
  return failure;
}
