/**
 * A step request's checks: its answers to the previous batch (count, sizes, errors by
 * position) and the hash that tells whether a held execution runs its program.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ExecuteCodeStepRequest, Language } from "../protocol.ts";
import { jsonOverLimit, resultTooLarge } from "./body.ts";
import type { ToolOutcome } from "./execution.ts";
import { HttpProblem } from "./problem.ts";
import type { StepState } from "./state_token.ts";
import { canonicalJson } from "./call_key.ts";

/**
 * The request's answers to the previous batch, checked against it: their count, each result's
 * size against `maxToolResultBytes`, and the positions of `tool_errors`.
 */
export function stepAnswers(
  body: ExecuteCodeStepRequest,
  previous: StepState | undefined,
  bodyBytes: number,
  maxToolResultBytes: number,
): { results: unknown[]; pending: { k: string; h: string }[]; outcomes: ToolOutcome[] } {
  const results = body.tool_results ?? [];
  if (previous === undefined && results.length > 0) {
    throw new HttpProblem(400, "invalid_body", "`tool_results` need the `state` they answer");
  }
  const pending = previous?.pending ?? [];
  // No results for a batch re-runs the step: the same calls come back.
  if (results.length > 0 && results.length !== pending.length) {
    throw new HttpProblem(
      400,
      "invalid_body",
      `Expected ${pending.length} tool results for the tool calls of the previous step, got ${results.length}`,
    );
  }
  checkSizes(results, bodyBytes, maxToolResultBytes);
  const outcomes = toOutcomes(results, body.tool_errors ?? []);
  return { results, pending, outcomes };
}

function checkSizes(results: unknown[], bodyBytes: number, limit: number): void {
  results.forEach((result, index) => {
    const size = jsonOverLimit(result, limit, bodyBytes);
    if (size !== undefined) {
      throw new HttpProblem(
        413,
        "result_too_large",
        `tool_results[${index}]: ${resultTooLarge(size, limit)}`,
      );
    }
  });
}

/** Each result of a batch as the execution takes it: a value, or the error `tool_errors` gives. */
function toOutcomes(
  results: unknown[],
  errors: { index: number; message: string }[],
): ToolOutcome[] {
  const failed = new Map<number, string>();
  for (const { index, message } of errors) {
    if (index >= results.length || failed.has(index)) {
      throw new HttpProblem(
        400,
        "invalid_body",
        `tool_errors: index ${index} is not a distinct position in tool_results`,
      );
    }
    failed.set(index, message);
  }
  return results.map((value, i) =>
    failed.has(i) ? { error: failed.get(i)! } : { value: value ?? null }
  );
}

/** What identifies the request's program (language, code, tools, modules, return value). */
export function programHash(language: Language, body: ExecuteCodeStepRequest): string {
  const subject = canonicalJson([
    language,
    body.code,
    body.tool_names,
    body.modules ?? {},
    body.return_value === true,
  ]);
  return createHash("sha256").update(subject).digest("hex").slice(0, 32);
}
