/**
 * AI SDK tools as progtc tools: an AI SDK tool (`tool({ description, inputSchema, execute })`,
 * with its `needsApproval`) becomes a `defineTool` tool, its schema (zod, a Standard Schema, or
 * the AI SDK's `jsonSchema(...)`) a progtc schema. No dependency on the `ai` package.
 *
 * @module
 */
import type { JsonSchema, Schema, StandardSchemaV1 } from "./schema.ts";
import { defineTool, isDefinedTool, type Tool } from "./tools.ts";

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
