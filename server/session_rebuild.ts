/**
 * Rebuilding a session from its history (`session_state.ts`): its programs replayed in order in
 * a fresh session realm, each call answered from its record, so that the realm holds what they
 * defined. What they print is discarded.
 *
 * Invariants:
 * - A replayed program's calls are answered only from its records: a call with no record, or
 *   whose hash differs from its record (the program did something else this time: it is not
 *   deterministic), fails the rebuild, which stops there and says which program and call.
 * - Each program must end by itself with its realm kept, as it did when it ran: one that ends
 *   otherwise (its timeout, a limit, a crash) fails the rebuild.
 * - The whole rebuild has one execution timeout: each program runs with what is left of it.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { runMessage } from "../runner/run_message.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import type { ByteBudget } from "./byte_budget.ts";
import { describeEnd } from "./end_reason.ts";
import { Execution } from "./execution.ts";
import type { Limits } from "./limits.ts";
import type { SessionHistory, SessionProgramRecord } from "./session_state.ts";
import { callHash, callKey } from "./call_key.ts";

/** What a rebuild needs besides the history. */
export interface RebuildOptions {
  limits: Limits;
  budget: ByteBudget;
  /** A program's source as it runs in a session (TypeScript: its declarations made globals). */
  source(code: string): string;
}

/** How a rebuild went: done, or why it failed (which program, which call). */
export type RebuildOutcome = { ok: true; ms: number } | { ok: false; detail: string };

/**
 * Replays the programs of `history` in order in `sandbox` (a fresh session realm), with their
 * recorded results.
 */
export async function rebuildSession(
  sandbox: Sandbox,
  history: SessionHistory,
  options: RebuildOptions,
): Promise<RebuildOutcome> {
  const started = performance.now();
  const deadline = started + options.limits.executionTimeoutMs;
  const count = history.programs.length;
  for (const [index, program] of history.programs.entries()) {
    const left = Math.max(1, deadline - performance.now());
    const failure = await replay(sandbox, history.language, program, {
      ...options,
      limits: { ...options.limits, executionTimeoutMs: left },
    });
    if (failure !== undefined) {
      return { ok: false, detail: `program ${index + 1} of ${count} ${failure}` };
    }
  }
  return { ok: true, ms: performance.now() - started };
}

/** Replays one program; what went wrong, or undefined when it ended with its realm kept. */
function replay(
  sandbox: Sandbox,
  language: Language,
  program: SessionProgramRecord,
  options: RebuildOptions,
): Promise<string | undefined> {
  const { promise, resolve } = Promise.withResolvers<string | undefined>();
  let failure: string | undefined;
  const limits = { ...options.limits, toolCallTimeoutMs: Infinity };
  const execution: Execution = new Execution(sandbox, program.tools, limits, {
    toolCall: (call) => {
      const key = callKey(call);
      const recorded = Object.hasOwn(program.records, key) ? program.records[key] : undefined;
      if (recorded === undefined || recorded.h !== callHash(call, program.determinism)) {
        failure ??= recorded === undefined
          ? `made a call it did not make before: ${call.tool_name}() at ${key} has no recorded result`
          : `made another call than before: ${call.tool_name}() at ${key} differs from its record (its arguments, or the tool)`;
        execution.cancel("the session could not be rebuilt");
        return;
      }
      execution.deliver(call.id, "e" in recorded ? { error: recorded.e } : { value: recorded.r });
    },
    end: (_result, reason) => {
      if (failure === undefined && !execution.kept) {
        failure = reason.code === "timeout"
          ? `did not end within the execution timeout (the whole rebuild has one)`
          : `ended otherwise than by itself (${describeEnd(reason)})`;
      }
      resolve(failure);
    },
  }, options.budget);
  execution.start(
    runMessage(language, options.source(program.code), program.tools, {
      ...limits,
      reportIdle: false,
      modules: program.modules,
      session: true,
    }),
  );
  return promise;
}
