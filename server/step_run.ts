/**
 * One program driven step by step. It owns its execution: it starts it, answers the calls the
 * state recorded, collects the new ones into a batch, stops at each batch, resumes with the
 * batch's answers, and ends.
 *
 * Invariants:
 * - A call is keyed by the program's structure (`frame_id` and `call_index`: `0.1#0`), so a
 *   replay answers each call from its record whatever order the calls come in.
 * - A recorded call answers only a call of the same hash (tool name, and in `strict` mode the
 *   canonical arguments); any other is failed with `DeterminismError` at the call, in the
 *   program (which may catch it; uncaught, the step ends as `determinism_error`).
 * - A batch is exact: the run stops only when the program says it waits on exactly the calls of
 *   the batch, so the same state and answers stop at the same batch however answers are timed.
 *   Calls the program makes after a stop (it can still run) open the next batch.
 * - A batch's answers are delivered at once.
 *
 * @module
 */
import type { DeterminismMode, StepToolCall } from "../protocol.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import type { RunRequest } from "../sandbox/messages.ts";
import { Execution, type ExecutionEnd, type KeyedToolCall, type ToolOutcome } from "./execution.ts";
import type { Lease } from "./admission_gate.ts";
import type { Limits } from "./limits.ts";
import type { ByteBudget } from "./byte_budget.ts";
import type { EndReason } from "./end_reason.ts";
import { utf8Length } from "./utf8_length.ts";
import type { StepRecord } from "./state_token.ts";
import { callHash, callKey, compareCalls, determinismMessage, record } from "./call_key.ts";

/** A new call of a batch: the wire call, its key and its hash, and its bytes in the answer. */
export interface BatchCall {
  call: KeyedToolCall;
  key: string;
  hash: string;
  bytes: number;
}

/** Where a run stopped: at a batch of new calls, or at its end. */
export type Stop =
  | { kind: "batch"; calls: BatchCall[] }
  | { kind: "end"; result: ExecutionEnd; reason: EndReason };

/** What a run starts from. */
export interface StepRunOptions {
  /** The execution this run continues (for logs; it stays the same across steps). */
  session: string;
  /** Hash of the program (language, code, tool names, modules): a resume must match it. */
  program: string;
  /** Answered calls, by call key. */
  records: Map<string, StepRecord>;
  determinism: DeterminismMode;
  toolNames: string[];
  limits: Limits;
  /** Bytes of JSON the tool calls of one answer may take. */
  maxAnswerBytes: number;
  /** The server's bytes held for clients: a batch's calls are in it until answered. */
  budget: ByteBudget;
  /**
   * The program ended (a session's: `kept` says whether its realm was kept for the next).
   * Called before the run's stop settles.
   */
  ended?(kept: boolean, reason: EndReason): void;
}

/** One program driven step by step. */
export class StepRun {
  readonly session: string;
  readonly program: string;
  readonly records: Map<string, StepRecord>;
  readonly determinism: DeterminismMode;
  /** The memory its sandbox was admitted with, in bytes. */
  readonly chargeBytes: number;
  #sandbox: { readonly memoryBytes: number };
  #execution: Execution;
  #release: () => void;
  #batch: BatchCall[] = [];
  /** Calls made after the last stop, before the resume: the next batch. */
  #next: BatchCall[] = [];
  #maxAnswerBytes: number;
  #budget: ByteBudget;
  #paused = false;
  #waiter: ((stop: Stop) => void) | undefined;
  #end: Stop | undefined;

  /** What it holds: its worker's last report, or its charge if more. */
  get memoryBytes(): number {
    return Math.max(this.chargeBytes, this.#sandbox.memoryBytes);
  }

  constructor(lease: Pick<Lease, "sandbox" | "release" | "memoryBytes">, options: StepRunOptions) {
    this.session = options.session;
    this.program = options.program;
    this.records = options.records;
    this.chargeBytes = lease.memoryBytes;
    this.#sandbox = lease.sandbox;
    this.determinism = options.determinism;
    this.#maxAnswerBytes = options.maxAnswerBytes;
    this.#budget = options.budget;
    this.#release = lease.release;
    this.#execution = new Execution(
      lease.sandbox,
      options.toolNames,
      { ...options.limits, toolCallTimeoutMs: Infinity },
      {
        toolCall: (call, argsBytes) => this.#onCall(call, argsBytes),
        idle: (pending) => this.#onIdle(pending),
        end: (result, reason) => {
          this.#release();
          this.#release = () => {};
          options.ended?.(this.#execution.kept, reason);
          this.#giveBack(this.#batch);
          this.#giveBack(this.#next);
          this.#settle({ kind: "end", result, reason });
        },
      },
      options.budget,
    );
  }

  /** The sandbox the run holds. */
  get sandbox(): Sandbox {
    return this.#execution.sandbox;
  }

  /** Whether the program has ended. */
  get ended(): boolean {
    return this.#execution.ended;
  }

  /** A session's program ended by itself: its realm was kept for the session's next. */
  get kept(): boolean {
    return this.#execution.kept;
  }

  /** Resolves once the run no longer holds its sandbox. */
  get stopped(): Promise<void> {
    return this.#execution.stopped;
  }

  /** Tool calls the program made in this run. */
  get toolCalls(): number {
    return this.#execution.toolCalls;
  }

  /** Starts the program. */
  start(run: RunRequest): void {
    this.#execution.start(run);
  }

  /** Resolves at the next batch or at the end. */
  next(): Promise<Stop> {
    if (this.#end) return Promise.resolve(this.#end);
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /**
   * Pauses at a batch: the execution clock stops and the execution slot is given back; the
   * program is held until {@linkcode StepRun.resume} or {@linkcode StepRun.cancel}.
   */
  pause(): void {
    this.#execution.pauseClock();
    this.#release();
    this.#release = () => {};
  }

  /**
   * The batch was answered to the client: its calls' arguments are no longer needed (a resume
   * needs their ids only) nor held.
   */
  answered(): void {
    this.#giveBack(this.#batch);
    for (const entry of this.#batch) entry.call = { ...entry.call, args: [], kwargs: {} };
  }

  /** Continues a paused run with the answers to its batch (in the batch's order). */
  resume(outcomes: ToolOutcome[], release: () => void): void {
    this.#release = release;
    const batch = this.#batch;
    this.#batch = this.#next;
    this.#next = [];
    this.#paused = false;
    this.#execution.restartClock();
    this.#giveBack(batch);
    batch.forEach(({ key, hash }, i) => this.records.set(key, record(hash, outcomes[i]!)));
    this.#execution.deliverAll(
      batch.map(({ call }, i) => ({ toolCallId: call.id, outcome: outcomes[i]! })),
    );
  }

  /** Ends the run (the client left, the hold expired, the server stops): kills the sandbox. */
  cancel(why: string): void {
    this.#execution.cancel(why);
  }

  /** Ends the run with `type`, `error` appended to its stderr. */
  stop(type: ExecutionEnd["type"], error: string, reason: EndReason): void {
    this.#execution.stop(type, error, reason);
  }

  #onCall(call: KeyedToolCall, argsBytes: number): void {
    const key = callKey(call);
    const hash = callHash(call, this.determinism);
    const recorded = this.records.get(key);
    if (recorded === undefined) {
      const batch = this.#paused ? this.#next : this.#batch;
      // The call as the answer will carry it: measured without its arguments, which the
      // execution measured already.
      const bytes = utf8Length(JSON.stringify({ ...call, args: [], kwargs: {} })) - 4 + argsBytes;
      const held = batch.reduce((sum, entry) => sum + entry.bytes, 0);
      if (held + bytes > this.#maxAnswerBytes || !this.#budget.take(bytes)) {
        // Refused, and recorded so: a replay of this step refuses it the same way.
        const refusal = {
          error: held + bytes > this.#maxAnswerBytes
            ? `The tool calls of one step may take ${this.#maxAnswerBytes} bytes of JSON; this call to ${call.tool_name}() would make them ${
              held + bytes
            }`
            : `The server holds too much for its clients to take this call to ${call.tool_name}() now`,
        };
        this.records.set(key, record(hash, refusal));
        this.#execution.deliver(call.id, refusal);
        return;
      }
      batch.push({ call, key, hash, bytes });
      return;
    }
    this.#execution.deliver(
      call.id,
      recorded.h !== hash
        ? { determinism: determinismMessage(call.tool_name) }
        : "e" in recorded
        ? { error: recorded.e }
        : { value: recorded.r },
    );
  }

  #onIdle(pending: string[]): void {
    if (this.#paused || this.#batch.length === 0 || pending.length !== this.#batch.length) return;
    if (!this.#batch.every(({ call }) => pending.includes(call.id))) return;
    this.#paused = true;
    this.#batch.sort((a, b) => compareCalls(a.call, b.call));
    this.#settle({ kind: "batch", calls: this.#batch });
  }

  #giveBack(batch: BatchCall[]): void {
    for (const entry of batch) {
      this.#budget.give(entry.bytes);
      entry.bytes = 0;
    }
  }

  #settle(stop: Stop): void {
    if (stop.kind === "end") this.#end = stop;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(stop);
  }
}

/** The run's next stop; kills the run if `signal` aborts first. */
export async function untilStop(run: StepRun, signal: AbortSignal | undefined): Promise<Stop> {
  if (!signal) return await run.next();
  const left = () => run.cancel("the client disconnected");
  if (signal.aborted) left();
  signal.addEventListener("abort", left);
  try {
    return await run.next();
  } finally {
    signal.removeEventListener("abort", left);
  }
}

/** A batch call as the step API answers it. */
export function stepToolCall({ call }: BatchCall): StepToolCall {
  return call;
}
