/**
 * What replays a step's tool calls: a call's key by the program's structure (`0.1#0`), the
 * order of a batch, a call's hash for the replay check (tool name, and in `strict` mode its
 * canonical arguments), the record of its answer, and what a program sees when a replayed call
 * differs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DeterminismMode } from "../protocol.ts";
import type { KeyedToolCall, ToolOutcome } from "./execution.ts";
import type { StepRecord } from "./state_token.ts";

/** The key of a call: its frame path and its index in the frame, `0.1#0`. */
export function callKey(call: { frame_id: number[]; call_index: number }): string {
  return `${call.frame_id.join(".")}#${call.call_index}`;
}

/** Orders calls by frame path (as numbers), then index: the order of a batch. */
export function compareCalls(
  a: { frame_id: number[]; call_index: number },
  b: { frame_id: number[]; call_index: number },
): number {
  const n = Math.min(a.frame_id.length, b.frame_id.length);
  for (let i = 0; i < n; i++) {
    const d = a.frame_id[i]! - b.frame_id[i]!;
    if (d !== 0) return d;
  }
  return a.frame_id.length - b.frame_id.length || a.call_index - b.call_index;
}

/** What a program sees when a replayed call differs from the recorded one (the reference's). */
export function determinismMessage(toolName: string): string {
  return "This code execution framework only works when the code calls tools in a " +
    "deterministic order, with deterministic arguments. " +
    `The call to \`${toolName}\` violated this rule.`;
}

/** The record of an answered call. */
export function record(hash: string, outcome: ToolOutcome): StepRecord {
  return "value" in outcome ? { h: hash, r: outcome.value } : {
    h: hash,
    e: "error" in outcome ? outcome.error : outcome.determinism,
  };
}

/** Hash of a call for replay checks: tool name, and in strict mode canonical arguments. */
export function callHash(call: KeyedToolCall, mode: DeterminismMode): string {
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
