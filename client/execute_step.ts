/**
 * The step API as the client calls it: the options of one step, the request body they make,
 * and {@linkcode runStepToolCalls}, which runs a step's batch as the next step wants it back.
 * Runtime-neutral.
 *
 * @module
 */
import type { DeterminismMode, JsonValue, Language, StepToolError, ToolCall } from "../protocol.ts";
import { runTool, type Tool } from "./tools.ts";

/** Options of {@linkcode ProgtcClient.executeCodeStep}. */
export interface ExecuteCodeStepOptions {
  /** The program; the same on every step. */
  code: string;
  /** Names of the tools the program may call; the same on every step. */
  toolNames: string[];
  /** The `state` of the previous step's answer; absent on the first step. */
  state?: string;
  /** Results of the previous step's tool calls, in their order. */
  toolResults?: JsonValue[];
  /** Which of `toolResults` are failures (the program sees an exception with the message). */
  toolErrors?: StepToolError[];
  /**
   * The program's language.
   * @default {the server's default language}
   */
  language?: Language;
  /**
   * How replayed tool calls are checked; fixed by the first step.
   * @default {"strict"}
   */
  determinism?: DeterminismMode;
  /** Return the program's return value as `value` in its final answer. */
  returnValue?: boolean;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * On a program's first step: open a session, `"new"` or `"new:<id>"` (what
   * {@linkcode ProgtcClient.session} with `api: "step"` sends for you).
   */
  session?: string;
  /** On a program's first step: run in the session this `session_state` records. */
  sessionState?: string;
}

/** The `/execute-code-step` request body of a step. */
export function stepBody(options: ExecuteCodeStepOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { code: options.code, tool_names: options.toolNames };
  if (options.state !== undefined) body.state = options.state;
  if (options.toolResults !== undefined) body.tool_results = options.toolResults;
  if (options.toolErrors?.length) body.tool_errors = options.toolErrors;
  if (options.language) body.language = options.language;
  if (options.determinism) body.determinism = options.determinism;
  if (options.returnValue) body.return_value = true;
  if (options.session !== undefined) body.session = options.session;
  if (options.sessionState !== undefined) body.session_state = options.sessionState;
  return body;
}

/**
 * Runs a step's tool calls concurrently, as {@linkcode ProgtcClient.executeCodeStep} wants them
 * back: `toolResults` in call order, and `toolErrors` for the tools that failed.
 *
 * @example
 * ```ts
 * import { runStepToolCalls } from "./execute_step.ts";
 * const calls = [{ type: "tool_call" as const, id: "1", execution_id: "e", tool_name: "add",
 *   args: [1, 2], kwargs: {}, frame_id: [], call_index: 0 }];
 * const { toolResults } = await runStepToolCalls(calls, { add: (a: number, b: number) => a + b });
 * console.assert(toolResults[0] === 3);
 * ```
 */
export async function runStepToolCalls(
  calls: ToolCall[],
  tools: Record<string, Tool>,
): Promise<{ toolResults: JsonValue[]; toolErrors: StepToolError[] }> {
  const outcomes = await Promise.all(calls.map((call) => runTool(call, tools)));
  const toolErrors: StepToolError[] = [];
  const toolResults = outcomes.map((outcome, index): JsonValue => {
    if ("json" in outcome) return JSON.parse(outcome.json);
    toolErrors.push({ index, message: outcome.error });
    return null;
  });
  return { toolResults, toolErrors };
}
