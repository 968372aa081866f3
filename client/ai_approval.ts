/**
 * The step plumbing behind {@linkcode progtcTool}'s approvals: a program stepped through the
 * step API until a batch has a call whose tool needs approval, kept paused by the id of the
 * model's call until the AI SDK approves it, then resumed with the approved calls run (and a
 * later call that needs approval refused). And what a program's end gives the model.
 *
 * @module
 */
import type { ProgtcClient } from "./client.ts";
import { runStepToolCalls } from "./execute_step.ts";
import type {
  DeterminismError,
  ExecuteCodeResult,
  JsonValue,
  Language,
  StepToolError,
  ToolCall,
} from "../protocol.ts";
import { callInput, type DefinedTool, isDefinedTool, type Tool } from "./tools.ts";

/** What {@linkcode progtcTool} returns to the AI SDK (and so to the model). */
export interface ProgtcToolOutput {
  /** How the program ended (`determinism_error` only for a program that changed on resume). */
  type: ExecuteCodeResult["type"] | "determinism_error";
  /** What it printed. */
  stdout: string;
  /** Its errors (a traceback, a timeout). */
  stderr: string;
  /** Its `export default` (TypeScript, JavaScript) or last expression (Python), when JSON. */
  value?: JsonValue;
}

/** A call that waits for approval: the tool and its input. */
export interface PendingCall {
  /** The tool's name. */
  toolName: string;
  /** Its input, as the tool will receive it. */
  input: unknown;
}

/** A program paused on calls that need approval, kept until the AI SDK calls `execute`. */
export interface Paused {
  readonly kind: "paused";
  readonly code: string;
  readonly state: string;
  readonly calls: ToolCall[];
  readonly pending: PendingCall[];
}

/** A program that ended while its approval was checked. */
export interface Ended {
  readonly kind: "ended";
  readonly output: ProgtcToolOutput;
}

/** Where and how a tool's programs run: its client, its tools and their names, its language. */
export interface StepTarget {
  readonly client: ProgtcClient;
  readonly tools: Record<string, Tool>;
  readonly names: string[];
  readonly language: Language;
}

/** How long a paused program is kept for its approval (the server's hold may be shorter). */
const KEEP_MS = 60 * 60 * 1000;

/** By the id of the model's call: what `needsApproval` found, until `execute` takes it. */
export class KeptPrograms {
  #kept = new Map<string, { entry: Paused | Ended; at: number }>();

  /** Drops what was kept for longer than an hour before `now`. */
  forget(now: number): void {
    for (const [id, { at }] of this.#kept) if (now - at > KEEP_MS) this.#kept.delete(id);
  }

  /** Keeps what was found for a call, from `at`. */
  keep(toolCallId: string, entry: Paused | Ended, at: number): void {
    this.#kept.set(toolCallId, { entry, at });
  }

  /** What was found for a call, no longer kept. */
  take(toolCallId: string): Paused | Ended | undefined {
    const entry = this.#kept.get(toolCallId)?.entry;
    this.#kept.delete(toolCallId);
    return entry;
  }

  /** Whether a call's program is paused for its approval. */
  isPaused(toolCallId: string): boolean {
    return this.#kept.get(toolCallId)?.entry.kind === "paused";
  }

  /** The calls a call's program paused on; none when it is not paused. */
  pending(toolCallId: string): PendingCall[] {
    const entry = this.#kept.get(toolCallId)?.entry;
    return entry?.kind === "paused" ? entry.pending : [];
  }
}

/** Steps the program on; stops before a batch that needs approval when `ask` is set. */
export async function advance(
  target: StepTarget,
  code: string,
  from: { state: string; calls: ToolCall[]; approved: boolean } | undefined,
  ask: boolean,
  signal: AbortSignal | undefined,
): Promise<Paused | Ended> {
  const { client, tools, names, language } = target;
  let state = from?.state;
  let calls = from?.calls;
  let approved = from?.approved ?? false;
  let results: { toolResults?: JsonValue[]; toolErrors?: StepToolError[] } = {};
  for (;;) {
    if (calls !== undefined) {
      // An approved batch is not asked about again (nor the tools' own checks run twice).
      const needing = approved ? new Set<string>() : await needingApproval(calls, tools);
      if (needing.size > 0) {
        if (ask) {
          const pending = calls.filter((call) => needing.has(call.id)).map((call) => ({
            toolName: call.tool_name,
            input: inputOf(call, tools),
          }));
          return { kind: "paused", code, state: state!, calls, pending };
        }
        results = await runWithRefusals(calls, tools, needing);
      } else {
        results = await runStepToolCalls(calls, tools);
      }
      approved = false;
    }
    signal?.throwIfAborted();
    const step = await client.executeCodeStep({
      code,
      toolNames: names,
      language,
      returnValue: true,
      ...(state !== undefined ? { state, ...results } : {}),
    });
    if (step.type !== "tool_call") return { kind: "ended", output: toOutput(step) };
    state = step.state;
    calls = step.tool_calls;
  }
}

/** The calls of a batch whose tools ask for approval of them. */
async function needingApproval(calls: ToolCall[], tools: Record<string, Tool>) {
  const needing = new Set<string>();
  for (const call of calls) {
    const tool = Object.hasOwn(tools, call.tool_name) ? tools[call.tool_name] : undefined;
    if (!isDefinedTool(tool) || !tool.needsApproval) continue;
    if (tool.needsApproval === true) {
      needing.add(call.id);
      continue;
    }
    const shaped = callInput(call, tool as DefinedTool);
    // A call of the wrong shape never runs: its tool refuses it.
    if ("input" in shaped && await tool.needsApproval(shaped.input)) needing.add(call.id);
  }
  return needing;
}

/** The input a call gives its tool (its arguments, for a plain function). */
function inputOf(call: ToolCall, tools: Record<string, Tool>): unknown {
  const tool = tools[call.tool_name];
  if (isDefinedTool(tool)) {
    const shaped = callInput(call, tool);
    if ("input" in shaped) return shaped.input;
  }
  return Object.keys(call.kwargs).length > 0 ? [...call.args, call.kwargs] : call.args;
}

/** Runs a batch, refusing the calls in `refused` with a `ToolError` that says why. */
async function runWithRefusals(
  calls: ToolCall[],
  tools: Record<string, Tool>,
  refused: Set<string>,
) {
  const allowed = calls.filter((call) => !refused.has(call.id));
  const ran = await runStepToolCalls(allowed, tools);
  const toolResults: JsonValue[] = [];
  const toolErrors: StepToolError[] = [];
  let next = 0;
  calls.forEach((call, index) => {
    if (refused.has(call.id)) {
      toolResults.push(null);
      toolErrors.push({
        index,
        message: `${call.tool_name}() needs approval, and this program has had its one ` +
          "approval: make the call in a new program, which asks again",
      });
      return;
    }
    const from = next++;
    toolResults.push(ran.toolResults[from]!);
    const error = ran.toolErrors.find((e) => e.index === from);
    if (error) toolErrors.push({ ...error, index });
  });
  return { toolResults, toolErrors };
}

/** What a program's end gives the model. */
export function toOutput(result: ExecuteCodeResult | DeterminismError): ProgtcToolOutput {
  return {
    type: result.type,
    stdout: result.stdout,
    stderr: result.stderr,
    ...("value" in result && result.value !== undefined ? { value: result.value } : {}),
  };
}
