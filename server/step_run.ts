/**
 * One program driven step by step: answers replayed calls from the records after checking their
 * hashes, collects the first batch of new calls, and reports where it stopped.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DeterminismMode, ToolCall } from "../protocol.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import {
  Execution,
  type ExecutionEnd,
  type ExecutionLimits,
  type ToolOutcome,
} from "./execution.ts";
import type { StepRecord } from "./state_token.ts";

/** A sandbox lent to one execution, with its execution slot. */
export interface Lease {
  sandbox: Sandbox;
  release(): void;
}

/** Where a run stopped: at a batch of new calls, or at its end. */
export type Stop = { kind: "batch" } | { kind: "end"; result: ExecutionEnd; why: string };

/** A new call of the current batch. */
export interface BatchCall {
  call: ToolCall;
  hash: string;
  index: number;
}

/** One program driven step by step. */
export class StepRun {
  readonly session: string;
  readonly execution: Execution;
  readonly records: StepRecord[];
  batch: BatchCall[] = [];
  #issued = 0;
  #determinism: DeterminismMode;
  #waiter: ((stop: Stop) => void) | undefined;
  #stopped: Stop | undefined;
  #release: () => void;

  constructor(
    lease: Lease,
    session: string,
    records: StepRecord[],
    determinism: DeterminismMode,
    toolNames: string[],
    limits: ExecutionLimits,
  ) {
    this.session = session;
    this.records = records;
    this.#determinism = determinism;
    this.#release = lease.release;
    this.execution = new Execution(lease.sandbox, toolNames, limits, {
      toolCall: (call) => this.#onCall(call),
      idle: () => {
        if (this.batch.length > 0) this.#settle({ kind: "batch" });
      },
      end: (result, why) => {
        this.#release();
        this.#release = () => {};
        this.#settle({ kind: "end", result, why });
      },
    });
  }

  /** Gives the execution slot back while the run is paused. */
  releaseSlot(): void {
    this.#release();
    this.#release = () => {};
  }

  /** Resolves at the next batch or at the end. */
  next(): Promise<Stop> {
    if (this.#stopped) {
      const stop = this.#stopped;
      this.#stopped = undefined;
      return Promise.resolve(stop);
    }
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** Continues a paused run with the answers to its batch. */
  resume(outcomes: ToolOutcome[], release: () => void): void {
    this.#release = release;
    const batch = this.batch;
    this.batch = [];
    this.execution.restartClock();
    batch.forEach(({ call, hash }, i) => {
      const outcome = outcomes[i]!;
      this.records.push(record(hash, outcome));
      this.execution.deliver(call.id, outcome);
    });
  }

  #onCall(call: ToolCall): void {
    const index = this.#issued++;
    const hash = callHash(call, this.#determinism);
    const recorded = this.records[index];
    if (recorded === undefined) {
      this.batch.push({ call, hash, index });
      return;
    }
    if (recorded.h !== hash) {
      const what = this.#determinism === "strict"
        ? "its tool or arguments differ"
        : "its tool differs";
      this.execution.stop(
        "determinism_error",
        `DeterminismError: tool call #${
          index + 1
        } (${call.tool_name}) does not match the recorded ` +
          `call: ${what}. The step API replays the program, so its tool calls must not depend on ` +
          `randomness, time or other changing input\n`,
        "determinism",
      );
      return;
    }
    this.execution.deliver(
      call.id,
      "e" in recorded ? { error: recorded.e } : { value: recorded.r },
    );
  }

  #settle(stop: Stop): void {
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(stop);
    } else if (stop.kind === "end" || !this.#stopped) {
      this.#stopped = stop;
    }
  }
}

/** The run's next stop; kills the run if `signal` aborts first. */
export async function untilStop(run: StepRun, signal: AbortSignal | undefined): Promise<Stop> {
  if (!signal) return await run.next();
  const left = () => run.execution.cancel("the client disconnected");
  if (signal.aborted) left();
  signal.addEventListener("abort", left);
  try {
    return await run.next();
  } finally {
    signal.removeEventListener("abort", left);
  }
}

/** The record of an answered call. */
export function record(hash: string, outcome: ToolOutcome): StepRecord {
  return "error" in outcome ? { h: hash, e: outcome.error } : { h: hash, r: outcome.value };
}

/** Hash of a call for replay checks: tool name, and in strict mode canonical arguments. */
export function callHash(call: ToolCall, mode: DeterminismMode): string {
  const subject = mode === "strict"
    ? canonicalJson({ tool_name: call.tool_name, args: call.args, kwargs: call.kwargs })
    : JSON.stringify(call.tool_name);
  return createHash("sha256").update(subject).digest("hex").slice(0, 32);
}

/** JSON with object keys sorted, so that equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
