/**
 * Shared checks of the interop tests: run every reference version at once, and read what a
 * client script reported.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ClientReport } from "./_python.ts";
import { REFERENCE_VERSIONS, type ReferenceVersion } from "./venv.ts";

const HEX_ID = /^[0-9a-f]{32}$/;

/** Runs `check` for every reference version at once; reports every version that failed. */
export async function forEachVersion(
  check: (version: ReferenceVersion) => Promise<void>,
  versions: readonly ReferenceVersion[] = REFERENCE_VERSIONS,
): Promise<void> {
  const settled = await Promise.allSettled(versions.map(check));
  const failures = settled.flatMap((outcome, i) =>
    outcome.status === "rejected" ? [`progtc ${versions[i]}: ${describe(outcome.reason)}`] : []
  );
  if (failures.length > 0) throw new Error(failures.join("\n\n"));
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** The terminal result of a report; fails with what the client raised instead. */
export function resultOf(
  report: ClientReport,
  expectedVersion: ReferenceVersion,
): Record<string, unknown> {
  assert.equal(report.progtc, expectedVersion);
  assert.equal(
    report.error,
    undefined,
    `the Python client raised: ${JSON.stringify(report.error)}`,
  );
  assert.ok(report.result, "the Python client returned no result");
  return report.result;
}

/** Asserts a tool call carries the wire's 32-hex ids. */
export function assertWireIds(call: Record<string, unknown>): void {
  assert.equal(call.type, "tool_call");
  assert.match(String(call.id), HEX_ID);
  assert.match(String(call.execution_id), HEX_ID);
}

/** The step loop's batches of tool calls, as `[tool_name, args]` pairs. */
export function batches(report: ClientReport): [string, unknown[]][][] {
  return (report.steps ?? []).map((s) =>
    s.tool_calls.map((c) => [String(c.tool_name), c.args as unknown[]])
  );
}

/**
 * Each step test runs twice: with warm resume (the server still holds the paused program) and
 * with `warmResumeTtlMs: 0`, where every step replays the program from the start.
 */
export const STEP_MODES = [
  ["warm resume", {}],
  ["replay", { warmResumeTtlMs: 0 }],
] as const;
