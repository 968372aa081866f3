/**
 * `describeTools`: the text that tells a model what its tools are, for its system prompt. For
 * TypeScript and JavaScript a `declare module "tools"` with JSDoc and types; for Python stubs with
 * type hints and docstrings; then the rules a program must follow. Types come from each tool's
 * JSON Schema (from zod and other Standard Schemas through Standard JSON Schema).
 *
 * The rules promise only what the client that runs the programs delivers: a failed tool raises
 * `ToolError` in the program with this package's client, but ends the whole execution with the
 * reference Python client; the program's value comes back only when it is asked for
 * (`returnValue: true`, which the reference client cannot ask).
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { typeScriptDeclarations } from "./declarations.ts";
import { jsonSchemaOf } from "./schema.ts";
import { pythonStubs } from "./stubs.ts";
import { isDefinedTool, isObjectSchema, type Tool } from "./tools.ts";

/** Options of {@linkcode describeTools}. */
export interface DescribeOptions {
  /**
   * The language the model writes.
   * @default {"typescript"}
   */
  language?: Language;
  /**
   * Whether to add the rules (import from `tools`, await every tool, what comes back).
   * @default {true}
   */
  rules?: boolean;
  /**
   * The client that runs the programs: `"progtc"`, this package's (`executeCode`,
   * `executeCodeStep`, `progtcTool`), where a failed tool raises `ToolError` in the program;
   * or `"reference"`, the Python package `progtc`'s `AsyncProgtcClient`, where a failed tool
   * ends the whole execution and no value comes back.
   * @default {"progtc"}
   */
  client?: "progtc" | "reference";
  /**
   * Whether the program's value (`export default`, or Python's last expression) comes back:
   * pass what you pass to `executeCode` (`progtcTool` always asks for it). The reference
   * client cannot ask for it.
   * @default {false}
   */
  returnValue?: boolean;
}

/**
 * The text for a system prompt that describes `tools` in `language`, with the rules that hold
 * for the client that runs the programs.
 *
 * @example
 * ```ts
 * import { defineTool } from "./tools.ts";
 * import { describeTools } from "./describe.ts";
 * const tools = {
 *   get_weather: defineTool({
 *     description: "Current weather of a city",
 *     input: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *     execute: ({ city }: { city: string }) => `Sunny in ${city}`,
 *   }),
 * };
 * const text = describeTools(tools, { language: "typescript", returnValue: true });
 * console.assert(text.includes("export function get_weather(input: { city: string }): Promise<unknown>;"));
 * console.assert(text.includes("`export default`"));
 * ```
 */
export function describeTools(tools: Record<string, Tool>, options: DescribeOptions = {}): string {
  const language = options.language ?? "typescript";
  const client = options.client ?? "progtc";
  if (client === "reference" && options.returnValue) {
    throw new TypeError("The reference Python client cannot return a program's value");
  }
  const python = language === "python";
  const body = python ? pythonStubs(tools, client === "progtc") : typeScriptDeclarations(tools);
  if (options.rules === false) return body;
  const rules = python
    ? pythonRules(shapes(tools), client, options.returnValue === true)
    : typeScriptRules(shapes(tools), client, options.returnValue === true);
  return `${rules.join(" ")}\n\n${body}`;
}

/** How the tools are called: with one object (keywords in Python), or positionally. */
interface Shapes {
  object: boolean;
  positional: boolean;
}

function shapes(tools: Record<string, Tool>): Shapes {
  const found: Shapes = { object: false, positional: false };
  for (const tool of Object.values(tools)) {
    if (!isDefinedTool(tool)) {
      found.positional = true;
      continue;
    }
    const input = jsonSchemaOf(tool.input, "input");
    if (input !== undefined) found[isObjectSchema(input) ? "object" : "positional"] = true;
  }
  return found;
}

const NO_WAY_OUT = "The program cannot reach the network, the machine's files or its " +
  "environment; the tools are its only way out.";

function typeScriptRules(shapes: Shapes, client: string, returnValue: boolean): string[] {
  return [
    'Write a TypeScript program that uses these tools. Import the tools you need from "tools", ' +
    'for example `import { name } from "tools";`.',
    "Every tool is async: `await` it, and use `Promise.all` to run several at once.",
    shapes.object
      ? "Call each tool as declared: a tool with an object input takes one object."
      : "Call each tool as declared.",
    client === "reference"
      ? "A tool that fails ends the whole program, with no error to catch."
      : "A tool that fails throws an error named ToolError whose message says why.",
    returnValue
      ? "Only what the program prints with console.log, or returns with `export default`, " +
        "comes back to you: print or return what you need, not more."
      : "Only what the program prints with console.log comes back to you: print what you " +
        "need, not more.",
    NO_WAY_OUT,
  ];
}

function pythonRules(shapes: Shapes, client: string, returnValue: boolean): string[] {
  const calling = shapes.object && shapes.positional
    ? "Call each tool as its stub says: keyword arguments for the parameters after `*`, " +
      "positional arguments for those before `/`."
    : shapes.object
    ? "Pass a tool's inputs as keyword arguments, as its stub says."
    : "Pass a tool's inputs as positional arguments, as its stub says.";
  return [
    "Write a Python program that uses these tools. Import the tools you need from `tools`, " +
    "for example `from tools import name`.",
    "Every tool is a coroutine: `await` it, and use `asyncio.gather` to run several at once.",
    calling,
    client === "reference"
      ? "A tool that fails ends the whole program, with no exception to catch."
      : "A tool that fails raises `tools.ToolError`, whose message says why.",
    returnValue
      ? "Only what the program prints, or the value of its last expression, comes back to you: " +
        "print or return what you need, not more."
      : "Only what the program prints comes back to you: print what you need, not more.",
    NO_WAY_OUT,
  ];
}
