/**
 * progtc for the [AI SDK](https://ai-sdk.dev): {@linkcode progtcTool} is one AI SDK tool that
 * runs the model's program on a progtc server with your tools. Its description tells the model
 * the rules and the tools' declarations; its result is what the program printed and returned.
 * AI SDK tools (an `inputSchema` and an `execute`) are progtc tools as they are, and a tool with
 * `needsApproval` pauses the program until the AI SDK's approval flow answers.
 *
 * No dependency on the `ai` package: the tool is a plain object of the shape the AI SDK reads
 * (its `inputSchema` a Standard Schema with JSON Schema).
 *
 * @example
 * ```ts ignore
 * import { generateText } from "ai";
 * import { progtcTool } from "@progtc/progtc/client/ai";
 *
 * const { text } = await generateText({
 *   model,
 *   tools: { run_program: progtcTool({ client, tools: { get_weather, search_hotels } }) },
 *   prompt: "Find a hotel in the warmest of Paris, Rome and Oslo",
 * });
 * ```
 *
 * @module
 */
import type { ProgtcClient } from "./client.ts";
import { describeTools } from "./describe.ts";
import type { Language } from "../protocol.ts";
import type { StandardResult, StandardSchemaV1 } from "./schema.ts";
import { isDefinedTool, type Tool } from "./tools.ts";
import {
  advance,
  KeptPrograms,
  type PendingCall,
  type ProgtcToolOutput,
  type StepTarget,
  toOutput,
} from "./ai_approval.ts";
import { type AiSdkTool, type AiToolExecutionOptions, toProgtcTools } from "./ai_sdk_tools.ts";

export type { PendingCall, ProgtcToolOutput } from "./ai_approval.ts";
export {
  type AiSdkTool,
  type AiToolExecutionOptions,
  toProgtcTool,
  toProgtcTools,
} from "./ai_sdk_tools.ts";

/** The input of {@linkcode progtcTool}: the program. */
export interface ProgtcToolInput {
  /** The program the model wrote. */
  code: string;
}

/** The AI SDK tool {@linkcode progtcTool} makes (a plain object of the AI SDK's `Tool` shape). */
export interface ProgtcAiTool {
  /** The rules and the tools' declarations, for the model. */
  readonly description: string;
  /** `{ code: string }`, as a Standard Schema with JSON Schema. */
  readonly inputSchema: StandardSchemaV1<unknown, ProgtcToolInput>;
  /** Runs the program (after an approval, continues it). */
  readonly execute: (
    input: ProgtcToolInput,
    options: AiToolExecutionOptions,
  ) => Promise<ProgtcToolOutput>;
  /**
   * Present when a tool needs approval: runs the program up to its first call that needs one,
   * and answers whether the AI SDK must ask.
   */
  readonly needsApproval?: (
    input: ProgtcToolInput,
    options: AiToolExecutionOptions,
  ) => Promise<boolean>;
  /**
   * The calls a program paused on for approval, by the id of the model's call of this tool (the
   * `toolCall.toolCallId` of the AI SDK's `tool-approval-request`): what to show the person.
   */
  readonly pendingCalls: (toolCallId: string) => PendingCall[];
  /** The AI SDK's code-mode seam: `experimental_toolCallers` binds tools to this tool. */
  readonly experimental_toolCaller: {
    readonly type: "local";
    readonly bind: (tools: Record<string, unknown>) => ProgtcAiTool;
  };
}

/** Options of {@linkcode progtcTool}. */
export interface ProgtcToolOptions {
  /** The client of the progtc server that runs the programs. */
  client: ProgtcClient;
  /** The tools programs may call: progtc tools (`defineTool`, functions) or AI SDK tools. */
  tools?: Record<string, Tool | AiSdkTool>;
  /**
   * The language the model writes.
   * @default {"typescript"}
   */
  language?: Language;
  /** Text added before the generated description (what the tool is for, in your words). */
  instructions?: string;
}

/**
 * One AI SDK tool that runs the model's programs on a progtc server, with `tools` as their
 * `tools` module. Its description is the rules and the tools' declarations
 * ({@linkcode describeTools}); its result is `{ type, stdout, stderr, value }`.
 *
 * Tools with `needsApproval` (AI SDK tools, or `defineTool({ needsApproval })`): the program runs
 * through the step API up to its first call that needs approval; the AI SDK then asks for the
 * approval of this tool's call (a `tool-approval-request` for it), and when it is approved runs
 * `execute`, which runs the paused calls and the rest of the program. When it is denied, the AI
 * SDK tells the model (`execution-denied`) and the paused program is dropped. A later call that
 * needs approval, in a program already approved once, raises a `ToolError` in the program: the
 * model can make it in a new program, which asks again. The paused program is kept in this
 * process (up to an hour): approve it from the same process, or use the step API directly to
 * resume elsewhere.
 *
 * Used with the AI SDK's `experimental_toolCallers`, the tools bound to this tool are added to
 * `tools` and hidden from the model.
 */
export function progtcTool(options: ProgtcToolOptions): ProgtcAiTool {
  const { client } = options;
  const language = options.language ?? "typescript";
  const tools = toProgtcTools(options.tools ?? {});
  const target: StepTarget = { client, tools, names: Object.keys(tools), language };
  const description = (options.instructions ? `${options.instructions.trim()}\n\n` : "") +
    describeTools(tools, { language, returnValue: true });
  const approvals = Object.values(tools).some((tool) =>
    isDefinedTool(tool) && tool.needsApproval !== undefined && tool.needsApproval !== false
  );
  const kept = new KeptPrograms();

  const execute = async (
    input: ProgtcToolInput,
    execution: AiToolExecutionOptions,
  ): Promise<ProgtcToolOutput> => {
    const entry = kept.take(execution.toolCallId);
    if (entry?.kind === "ended") return entry.output;
    if (entry?.kind === "paused" || approvals) {
      // The AI SDK runs `execute` after an approval only: the paused calls are approved.
      const from = entry && { state: entry.state, calls: entry.calls, approved: true };
      const code = entry?.code ?? input.code;
      const end = await advance(target, code, from, false, execution.abortSignal);
      if (end.kind === "ended") return end.output;
      throw new Error("A program paused for an approval it could not ask for");
    }
    const result = await client.executeCode({
      code: input.code,
      tools,
      language,
      returnValue: true,
      ...(execution.abortSignal ? { signal: execution.abortSignal } : {}),
    });
    return toOutput(result);
  };

  const needsApproval = async (
    input: ProgtcToolInput,
    execution: AiToolExecutionOptions,
  ): Promise<boolean> => {
    const now = Date.now();
    kept.forget(now);
    // The AI SDK asks again before it runs an approved call: the program is still paused.
    if (kept.isPaused(execution.toolCallId)) return true;
    const entry = await advance(target, input.code, undefined, true, execution.abortSignal);
    kept.keep(execution.toolCallId, entry, now);
    return entry.kind === "paused";
  };

  const tool: ProgtcAiTool = {
    description,
    inputSchema: PROGRAM_SCHEMA,
    execute,
    ...(approvals ? { needsApproval } : {}),
    pendingCalls: (toolCallId) => kept.pending(toolCallId),
    experimental_toolCaller: undefined as never,
  };
  addToolCaller(tool, options);
  return tool;
}

/**
 * The AI SDK's code-mode seam on `tool`: `experimental_toolCaller.bind(tools)` makes the same
 * tool with `tools` added. Not enumerable, as the AI SDK's own `experimental_toolCaller()` makes
 * it: a spread of the tool (which the AI SDK does) drops it.
 */
function addToolCaller(tool: ProgtcAiTool, options: ProgtcToolOptions): void {
  Object.defineProperty(tool, "experimental_toolCaller", {
    value: {
      type: "local",
      bind: (bound: Record<string, unknown>) =>
        progtcTool({
          ...options,
          tools: { ...options.tools, ...(bound as Record<string, AiSdkTool>) },
        }),
    },
    enumerable: false,
  });
}

const PROGRAM_JSON_SCHEMA = {
  type: "object",
  properties: {
    code: { type: "string", description: 'The program: it imports its tools from "tools".' },
  },
  required: ["code"],
  additionalProperties: false,
};

const PROGRAM_SCHEMA: StandardSchemaV1<unknown, ProgtcToolInput> = {
  "~standard": {
    version: 1,
    vendor: "progtc",
    validate: (value): StandardResult<ProgtcToolInput> =>
      typeof value === "object" && value !== null &&
        typeof (value as { code?: unknown }).code === "string"
        ? { value: { code: (value as ProgtcToolInput).code } }
        : { issues: [{ message: "expected an object with the program as `code` (a string)" }] },
    jsonSchema: { input: () => PROGRAM_JSON_SCHEMA, output: () => PROGRAM_JSON_SCHEMA },
  },
};
