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
import { runStepToolCalls } from "./execute_step.ts";
import { describeTools } from "./describe.ts";
import type {
  DeterminismError,
  ExecuteCodeResult,
  JsonValue,
  Language,
  StepToolError,
  ToolCall,
} from "../protocol.ts";
import type { JsonSchema, Schema, StandardResult, StandardSchemaV1 } from "./schema.ts";
import { callInput, type DefinedTool, defineTool, isDefinedTool, type Tool } from "./tools.ts";

/** The options the AI SDK passes to a tool's `execute` (the part progtc reads). */
export interface AiToolExecutionOptions {
  /** The id of the model's call of this tool. */
  toolCallId: string;
  /** The conversation so far. */
  messages?: unknown[];
  /** Aborts the call. */
  abortSignal?: AbortSignal;
}

/**
 * An AI SDK tool as progtc reads it (`tool({ description, inputSchema, execute })`): its input
 * schema is zod, a Standard Schema, or the AI SDK's `jsonSchema(...)`.
 */
export interface AiSdkTool {
  /** What the tool does, for the model (AI SDK 7: or a function of the tool's context). */
  // deno-lint-ignore no-explicit-any
  description?: string | ((options: any) => string) | undefined;
  /** The schema of its input. */
  inputSchema?: unknown;
  /** The schema of its output. */
  outputSchema?: unknown;
  /** Runs the tool (called with {@linkcode AiToolExecutionOptions}). */
  // deno-lint-ignore no-explicit-any
  execute?: ((input: any, options: any) => unknown) | undefined;
  /** Whether a call needs a person's approval first. */
  // deno-lint-ignore no-explicit-any
  needsApproval?: boolean | ((input: any, options: any) => unknown) | undefined;
}

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

/** A call that waits for approval: the tool and its input. */
export interface PendingCall {
  /** The tool's name. */
  toolName: string;
  /** Its input, as the tool will receive it. */
  input: unknown;
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

/** A program paused on calls that need approval, kept until the AI SDK calls `execute`. */
interface Paused {
  readonly kind: "paused";
  readonly code: string;
  readonly state: string;
  readonly calls: ToolCall[];
  readonly pending: PendingCall[];
}

/** A program that ended while its approval was checked. */
interface Ended {
  readonly kind: "ended";
  readonly output: ProgtcToolOutput;
}

/** How long a paused program is kept for its approval (the server's hold may be shorter). */
const KEEP_MS = 60 * 60 * 1000;

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
  const names = Object.keys(tools);
  const description = (options.instructions ? `${options.instructions.trim()}\n\n` : "") +
    describeTools(tools, { language, returnValue: true });
  const approvals = Object.values(tools).some((tool) =>
    isDefinedTool(tool) && tool.needsApproval !== undefined && tool.needsApproval !== false
  );
  // By the id of the model's call: what `needsApproval` found, until `execute` takes it.
  const kept = new Map<string, { entry: Paused | Ended; at: number }>();
  const forget = (now: number) => {
    for (const [id, { at }] of kept) if (now - at > KEEP_MS) kept.delete(id);
  };

  /** Steps the program on; stops before a batch that needs approval when `ask` is set. */
  const advance = async (
    code: string,
    from: { state: string; calls: ToolCall[]; approved: boolean } | undefined,
    ask: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Paused | Ended> => {
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
  };

  const execute = async (
    input: ProgtcToolInput,
    execution: AiToolExecutionOptions,
  ): Promise<ProgtcToolOutput> => {
    const entry = kept.get(execution.toolCallId)?.entry;
    kept.delete(execution.toolCallId);
    if (entry?.kind === "ended") return entry.output;
    if (entry?.kind === "paused" || approvals) {
      // The AI SDK runs `execute` after an approval only: the paused calls are approved.
      const from = entry && { state: entry.state, calls: entry.calls, approved: true };
      const end = await advance(entry?.code ?? input.code, from, false, execution.abortSignal);
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
    forget(now);
    // The AI SDK asks again before it runs an approved call: the program is still paused.
    if (kept.get(execution.toolCallId)?.entry.kind === "paused") return true;
    const entry = await advance(input.code, undefined, true, execution.abortSignal);
    kept.set(execution.toolCallId, { entry, at: now });
    return entry.kind === "paused";
  };

  const tool: ProgtcAiTool = {
    description,
    inputSchema: PROGRAM_SCHEMA,
    execute,
    ...(approvals ? { needsApproval } : {}),
    pendingCalls: (toolCallId) => {
      const entry = kept.get(toolCallId)?.entry;
      return entry?.kind === "paused" ? entry.pending : [];
    },
    experimental_toolCaller: undefined as never,
  };
  // Not enumerable, as the AI SDK's own `experimental_toolCaller()` makes it: a spread of the
  // tool (which the AI SDK does) drops it.
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
  return tool;
}

/** A tool set with AI SDK tools turned into progtc tools; progtc tools are kept. */
export function toProgtcTools(tools: Record<string, Tool | AiSdkTool>): Record<string, Tool> {
  return Object.fromEntries(
    Object.entries(tools).map(([name, tool]) => [name, toProgtcTool(name, tool)]),
  );
}

/** One AI SDK tool as a progtc tool (a progtc tool is returned as it is). */
export function toProgtcTool(name: string, tool: Tool | AiSdkTool): Tool {
  if (typeof tool === "function" || isDefinedTool(tool)) return tool;
  const aiTool = tool as AiSdkTool;
  const run = aiTool.execute;
  if (run === undefined) {
    throw new TypeError(`The AI SDK tool ${name} has no execute function to run here`);
  }
  let calls = 0;
  const options = (): AiToolExecutionOptions => ({
    toolCallId: `progtc-${name}-${++calls}`,
    messages: [],
  });
  const approval = aiTool.needsApproval;
  const description = typeof aiTool.description === "function"
    ? aiTool.description({ context: undefined })
    : aiTool.description;
  return defineTool({
    ...(description !== undefined ? { description } : {}),
    input: toSchema(aiTool.inputSchema) ?? { type: "object", properties: {} },
    ...(aiTool.outputSchema !== undefined ? { output: toSchema(aiTool.outputSchema)! } : {}),
    execute: (input: unknown) => run(input, options()),
    ...(approval !== undefined
      ? {
        needsApproval: typeof approval === "function"
          ? async (input: unknown) => Boolean(await approval(input, options()))
          : approval,
      }
      : {}),
  });
}

const AI_SCHEMA = Symbol.for("vercel.ai.schema");

/** An AI SDK schema (zod, Standard Schema, `jsonSchema()`) as a progtc schema. */
function toSchema(schema: unknown): Schema | undefined {
  if (schema === undefined || schema === null) return undefined;
  if (typeof schema !== "object") return undefined;
  if ("~standard" in schema) return schema as StandardSchemaV1;
  if (AI_SCHEMA in schema) {
    const ai = schema as unknown as {
      jsonSchema: JsonSchema | PromiseLike<JsonSchema>;
      validate?: (value: unknown) => unknown;
    };
    const json = () => {
      const value = ai.jsonSchema;
      return value && typeof (value as PromiseLike<unknown>).then !== "function"
        ? value as Record<string, unknown>
        : {};
    };
    const adapted: StandardSchemaV1 = {
      "~standard": {
        version: 1,
        vendor: "ai-sdk",
        validate: async (value) => {
          if (!ai.validate) return { value };
          const result = await ai.validate(value) as
            | { success: true; value: unknown }
            | { success: false; error: Error };
          return result.success
            ? { value: result.value }
            : { issues: [{ message: result.error.message }] };
        },
        jsonSchema: { input: json, output: json },
      },
    };
    return adapted;
  }
  return schema as JsonSchema;
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

function toOutput(result: ExecuteCodeResult | DeterminismError): ProgtcToolOutput {
  return {
    type: result.type,
    stdout: result.stdout,
    stderr: result.stderr,
    ...("value" in result && result.value !== undefined ? { value: result.value } : {}),
  };
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
