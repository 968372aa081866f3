/**
 * Tools as the client runs them: a plain function, or a tool made with {@linkcode defineTool}
 * (a description, an input schema, an optional output schema), whose input the client checks
 * before the tool runs. A call that does not fit raises a `ToolError` in the program that says
 * what was wrong, so the model can fix its code.
 *
 * @module
 */
import type { JsonValue, ToolCall } from "../protocol.ts";
import {
  check,
  type JsonSchema,
  jsonSchemaOf,
  type Schema,
  type StandardSchemaV1,
} from "./schema.ts";
import { parameterNames } from "./signature.ts";

/**
 * A tool as a plain function: called with the program's positional arguments. Keyword arguments
 * (Python `f(x=1)`) that all name its parameters (`(a, b) => …` read from its source) go in
 * their places, so `add(a=1, b=2)` is `add(1, 2)`; any others come as one more argument
 * holding them as an object. Its return value must be JSON-serialisable; a thrown error reaches
 * the program as an exception.
 */
// deno-lint-ignore no-explicit-any
export type ToolHandler = (...args: any[]) => unknown;

/** A tool made with {@linkcode defineTool}. */
export interface DefinedTool<Input = unknown, Output = unknown> {
  /** Marks a tool made by `defineTool` (a plain object, so it survives structured cloning). */
  readonly "~progtc": "tool";
  /** What the tool does, for the model. */
  readonly description: string | undefined;
  /** The schema of its one argument. */
  readonly input: Schema<Input>;
  /** The schema of its result, when given. */
  readonly output: Schema<Output> | undefined;
  /** Runs the tool with a checked input. */
  readonly execute: (input: Input) => Output | Promise<Output>;
  /**
   * Whether a call needs a person's approval before it runs (the AI SDK adapter pauses the
   * program for it; `executeCode` itself does not ask).
   */
  readonly needsApproval: boolean | ((input: Input) => boolean | Promise<boolean>) | undefined;
}

/** A tool: a plain function or a {@linkcode DefinedTool}. */
// deno-lint-ignore no-explicit-any
export type Tool = ToolHandler | DefinedTool<any, any>;

/**
 * The input type a schema describes: a Standard Schema's output type (what it parses to); for a
 * JSON Schema, what the tool's `execute` declares.
 */
// deno-lint-ignore no-explicit-any
export type InferInput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : any;

/** The options of {@linkcode defineTool}. */
export interface ToolDefinition<S extends Schema, Output> {
  /** What the tool does, for the model (it goes into {@linkcode describeTools}' text). */
  description?: string;
  /**
   * The schema of the tool's one argument: zod (or any Standard Schema), or a JSON Schema. An
   * object schema makes the tool take one object (Python: keyword arguments).
   */
  input: S;
  /** The schema of its result; checked, and described to the model. */
  output?: Schema<Output>;
  /** Runs the tool; its result must be JSON-serialisable. */
  execute: (input: InferInput<S>) => Output | Promise<Output>;
  /** Whether a call needs approval first (see `progtcTool` in `./ai`). */
  needsApproval?: boolean | ((input: InferInput<S>) => boolean | Promise<boolean>);
}

/**
 * Defines a tool with a checked input (and output): the model is told its types by
 * `describeTools`, and a call that does not fit raises a `ToolError` in the program, saying
 * what was wrong.
 *
 * @example
 * ```ts
 * import { defineTool } from "./tools.ts";
 * const getWeather = defineTool({
 *   description: "Current weather of a city",
 *   input: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *   execute: ({ city }: { city: string }) => ({ city, celsius: 21 }),
 * });
 * console.assert(getWeather.description === "Current weather of a city");
 * ```
 */
export function defineTool<S extends Schema, Output>(
  definition: ToolDefinition<S, Output>,
): DefinedTool<InferInput<S>, Output> {
  return {
    "~progtc": "tool",
    description: definition.description,
    input: definition.input as Schema<InferInput<S>>,
    output: definition.output,
    execute: definition.execute,
    needsApproval: definition.needsApproval,
  };
}

/** Whether `tool` was made with {@linkcode defineTool}. */
export function isDefinedTool(tool: unknown): tool is DefinedTool {
  return typeof tool === "object" && tool !== null &&
    (tool as { "~progtc"?: unknown })["~progtc"] === "tool";
}

/** What a call gave: its result as JSON text, or the error the program sees. */
export type Outcome = { json: string } | { error: string };

/** Runs one call with `tools`; never throws. */
export async function runTool(call: ToolCall, tools: Record<string, Tool>): Promise<Outcome> {
  const tool = Object.hasOwn(tools, call.tool_name) ? tools[call.tool_name] : undefined;
  if (!tool) return { error: `Unknown tool: ${call.tool_name}` };
  try {
    const value = isDefinedTool(tool)
      ? await runDefined(call, tool)
      : await tool(...plainArguments(call, tool));
    if (value instanceof Refusal) return { error: value.error };
    // Serialised once, here: a value that is not JSON (a cycle, a BigInt) fails the call.
    return { json: JSON.stringify(value ?? null) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** A plain function's parameter names, read from its source once. */
const parameters = new WeakMap<ToolHandler, string[] | undefined>();

/**
 * The arguments of a plain function: the positional ones, then keyword arguments in the places
 * of the parameters they name (when all of them name one not already given), else as one
 * trailing object.
 */
function plainArguments(call: ToolCall, tool: ToolHandler): unknown[] {
  const keys = Object.keys(call.kwargs);
  if (keys.length === 0) return call.args;
  if (!parameters.has(tool)) parameters.set(tool, parameterNames(tool));
  const names = parameters.get(tool);
  const places = keys.map((key) => names?.indexOf(key) ?? -1);
  if (places.some((place) => place < call.args.length)) return [...call.args, call.kwargs];
  const args: unknown[] = [...call.args];
  keys.forEach((key, i) => args[places[i]!] = call.kwargs[key]);
  return args;
}

/** A call refused before its tool ran (its input did not fit). */
class Refusal {
  readonly error: string;
  constructor(error: string) {
    this.error = error;
  }
}

/**
 * The one input a call gives a defined tool (its argument, or its keyword arguments as an
 * object), or why the call does not fit the tool's shape.
 */
export function callInput(
  call: ToolCall,
  tool: DefinedTool,
): { input: unknown } | { error: string } {
  const refusal = inputOf(call, tool);
  return refusal instanceof Refusal ? { error: refusal.error } : { input: refusal.input };
}

/** Whether a defined tool takes one object; read from its schema once per tool. */
const objectInputs = new WeakMap<DefinedTool, boolean>();

function takesObjectInput(tool: DefinedTool): boolean {
  let takes = objectInputs.get(tool);
  if (takes === undefined) {
    // For a Standard Schema this converts it to JSON Schema: not on every call.
    const schema = jsonSchemaOf(tool.input);
    takes = schema === undefined || isObjectSchema(schema);
    objectInputs.set(tool, takes);
  }
  return takes;
}

function inputOf(call: ToolCall, tool: DefinedTool): Refusal | { input: unknown } {
  const takesObject = takesObjectInput(tool);
  const kwargs = Object.keys(call.kwargs).length > 0 ? call.kwargs : undefined;
  let input: unknown;
  if (call.args.length > 1) {
    return new Refusal(
      `${call.tool_name}() takes one argument${
        takesObject ? " (an object)" : ""
      }, got ${call.args.length}`,
    );
  } else if (kwargs && takesObject) {
    const first = call.args[0];
    if (
      first !== undefined && (typeof first !== "object" || first === null || Array.isArray(first))
    ) {
      return new Refusal(`${call.tool_name}() takes one object, or keyword arguments`);
    }
    input = { ...(first as Record<string, JsonValue> | undefined), ...kwargs };
  } else if (kwargs) {
    return new Refusal(`${call.tool_name}() takes no keyword arguments`);
  } else {
    input = call.args[0] ?? (takesObject ? {} : undefined);
  }
  return { input };
}

async function runDefined(call: ToolCall, tool: DefinedTool): Promise<unknown> {
  const shaped = inputOf(call, tool);
  if (shaped instanceof Refusal) return shaped;
  const checked = await check(tool.input, shaped.input);
  if (!checked.ok) {
    return new Refusal(`Invalid input for ${call.tool_name}(): ${checked.issues.join("; ")}`);
  }
  const result = await tool.execute(checked.value);
  if (!tool.output) return result;
  const output = await check(tool.output, result);
  if (!output.ok) {
    return new Refusal(
      `${call.tool_name}() returned an invalid result: ${output.issues.join("; ")}`,
    );
  }
  return output.value;
}

/** Whether a JSON Schema describes an object (so the tool takes one object, or keywords). */
export function isObjectSchema(schema: JsonSchema): boolean {
  return schema.type === "object" || (schema.type === undefined && schema.properties !== undefined);
}
