/**
 * `describeTools`: the text that tells a model what its tools are, for its system prompt. For
 * TypeScript and JavaScript a `declare module "tools"` with JSDoc and types; for Python stubs with
 * type hints and docstrings; then the few rules a program must follow. Types come from each
 * tool's JSON Schema (from zod and other Standard Schemas through Standard JSON Schema).
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { type JsonSchema, jsonSchemaOf } from "./schema.ts";
import { isDefinedTool, isObjectSchema, type Tool } from "./tools.ts";

/** Options of {@linkcode describeTools}. */
export interface DescribeOptions {
  /**
   * The language the model writes.
   * @default {"typescript"}
   */
  language?: Language;
  /**
   * Whether to add the rules (import from `tools`, await every tool, print or return).
   * @default {true}
   */
  rules?: boolean;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const PY_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The text for a system prompt that describes `tools` in `language`.
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
 * const text = describeTools(tools, { language: "typescript" });
 * console.assert(text.includes("export function get_weather(input: { city: string }): Promise<unknown>;"));
 * ```
 */
export function describeTools(tools: Record<string, Tool>, options: DescribeOptions = {}): string {
  const language = options.language ?? "typescript";
  const body = language === "python" ? pythonStubs(tools) : typeScriptDeclarations(tools);
  if (options.rules === false) return body;
  return `${language === "python" ? PYTHON_RULES : TYPESCRIPT_RULES}\n\n${body}`;
}

const TYPESCRIPT_RULES =
  `Write a TypeScript program that uses these tools. Import the tools you need from "tools", \
for example \`import { name } from "tools";\`. Every tool is async: \`await\` it, and use \
\`Promise.all\` to run several at once. A tool with an object input takes one object. A tool that \
fails throws an error named ToolError whose message says why. Only what \
the program prints with console.log, or returns with \`export default\`, comes back to you: \
print or return what you need, not more. The program has no network, files or environment; \
the tools are its only way out.`;

const PYTHON_RULES = `Write a Python program that uses these tools. Import the tools you need from \
\`tools\`, for example \`from tools import name\`. Every tool is a coroutine: \`await\` it, and use \
\`asyncio.gather\` to run several at once. Pass a tool's inputs as keyword arguments. A tool that \
fails raises \`tools.ToolError\`, whose message says why. Only what \
the program prints, or the value of its last expression, comes back to you: print or return \
what you need, not more. The program has no network, files or environment; the tools are \
its only way out.`;

// ─── TypeScript ─────────────────────────────────────────────────────────────────────────────

function typeScriptDeclarations(tools: Record<string, Tool>): string {
  const lines = ['declare module "tools" {'];
  Object.entries(tools).forEach(([name, tool], index) => {
    const local = IDENTIFIER.test(name) && !RESERVED.has(name) ? name : `tool${index}`;
    const exported = local === name ? "export " : "";
    if (isDefinedTool(tool)) {
      const input = jsonSchemaOf(tool.input, "input");
      const output = jsonSchemaOf(tool.output, "output");
      lines.push(...jsdoc([tool.description, ...paramDocs(input)], "  "));
      const param = input === undefined
        ? "input: unknown"
        : `input${isOptionalInput(input) ? "?" : ""}: ${tsType(input, input, "  ", 0)}`;
      const result = output === undefined ? "unknown" : tsType(output, output, "  ", 0);
      lines.push(`  ${exported}function ${local}(${param}): Promise<${result}>;`);
    } else {
      lines.push(`  ${exported}function ${local}(...args: unknown[]): Promise<unknown>;`);
    }
    if (local !== name) lines.push(`  export { ${local} as ${JSON.stringify(name)} };`);
  });
  lines.push("}");
  return lines.join("\n");
}

const RESERVED = new Set([
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
  "yield",
  "let",
  "static",
  "implements",
  "interface",
  "package",
  "private",
  "protected",
  "public",
  "await",
]); // deno-fmt-ignore

function isOptionalInput(schema: JsonSchema): boolean {
  return isObjectSchema(schema) && (schema.required ?? []).length === 0;
}

function jsdoc(parts: (string | undefined)[], indent: string): string[] {
  const text = parts.filter((p): p is string => !!p && p.trim() !== "");
  if (text.length === 0) return [];
  const body = text.flatMap((p) => p.replaceAll("*/", "*\\/").split("\n"));
  if (body.length === 1) return [`${indent}/** ${body[0]} */`];
  return [`${indent}/**`, ...body.map((line) => `${indent} * ${line}`.trimEnd()), `${indent} */`];
}

/** `@param input.x description` lines for an object input's described properties. */
function paramDocs(schema: JsonSchema | undefined): string[] {
  if (!schema || !isObjectSchema(schema)) return [];
  return Object.entries(schema.properties ?? {})
    .filter(([, p]) => typeof p.description === "string")
    .map(([name, p]) => `@param input.${name} ${p.description}`);
}

function tsLiteral(value: unknown): string {
  return JSON.stringify(value) ?? "unknown";
}

function tsType(
  schema: JsonSchema | boolean,
  root: JsonSchema,
  indent: string,
  depth: number,
): string {
  if (schema === true || depth > 12) return "unknown";
  if (schema === false) return "never";
  const resolved = deref(schema, root);
  if (resolved !== schema) return tsType(resolved, root, indent, depth + 1);
  const nullable = schema.nullable === true ? " | null" : "";
  if (schema.const !== undefined) return tsLiteral(schema.const) + nullable;
  if (schema.enum) return schema.enum.map(tsLiteral).join(" | ") + nullable;
  const union = schema.anyOf ?? schema.oneOf;
  if (union) {
    return union.map((s) => wrap(tsType(s, root, indent, depth + 1))).join(" | ") + nullable;
  }
  if (schema.allOf) {
    return schema.allOf.map((s) => wrap(tsType(s, root, indent, depth + 1))).join(" & ") + nullable;
  }
  const types = typesOf(schema);
  if (types.length === 0) return "unknown";
  return types.map((type) => {
    switch (type) {
      case "string":
        return "string";
      case "number":
      case "integer":
        return "number";
      case "boolean":
        return "boolean";
      case "null":
        return "null";
      case "array": {
        const tuple = schema.prefixItems ??
          (Array.isArray(schema.items) ? schema.items : undefined);
        if (tuple) return `[${tuple.map((s) => tsType(s, root, indent, depth + 1)).join(", ")}]`;
        const items = schema.items as JsonSchema | undefined;
        return `${wrap(items ? tsType(items, root, indent, depth + 1) : "unknown")}[]`;
      }
      case "object":
        return tsObject(schema, root, indent, depth);
      default:
        return "unknown";
    }
  }).join(" | ") + nullable;
}

function wrap(type: string): string {
  return /[|&]/.test(type) && !/^[[{]/.test(type) ? `(${type})` : type;
}

function tsObject(schema: JsonSchema, root: JsonSchema, indent: string, depth: number): string {
  const properties = Object.entries(schema.properties ?? {});
  const extra = schema.additionalProperties;
  if (properties.length === 0) {
    if (extra === false) return "Record<string, never>";
    return `Record<string, ${
      typeof extra === "object" ? tsType(extra, root, indent, depth + 1) : "unknown"
    }>`;
  }
  const required = new Set(schema.required ?? []);
  const inner = `${indent}  `;
  const members = properties.map(([name, property]) => {
    const key = IDENTIFIER.test(name) ? name : JSON.stringify(name);
    const type = tsType(property, root, inner, depth + 1);
    const doc = typeof property === "object" && property.description && depth > 0
      ? jsdoc([property.description], inner)
      : [];
    return { line: `${key}${required.has(name) ? "" : "?"}: ${type}`, doc };
  });
  if (typeof extra === "object") {
    members.push({ line: `[key: string]: ${tsType(extra, root, inner, depth + 1)}`, doc: [] });
  }
  const flat = `{ ${members.map((m) => m.line).join("; ")} }`;
  if (flat.length <= 80 && members.every((m) => m.doc.length === 0)) return flat;
  return `{\n${
    members.map((m) => [...m.doc, `${inner}${m.line};`].join("\n")).join("\n")
  }\n${indent}}`;
}

function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const match = schema.$ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
  const defs = match?.[1] === "$defs" ? root.$defs : root.definitions;
  return (match && defs?.[decodeURIComponent(match[2]!)]) || {};
}

// ─── Python ─────────────────────────────────────────────────────────────────────────────────

function pythonStubs(tools: Record<string, Tool>): string {
  const classes: string[] = [];
  const functions: string[] = [];
  const names = new Set<string>();
  for (const [name, tool] of Object.entries(tools)) {
    const valid = PY_IDENTIFIER.test(name) && !PY_KEYWORDS.has(name);
    const head = valid
      ? `async def ${name}`
      : `# importable as: import tools; getattr(tools, ${JSON.stringify(name)})\nasync def _`;
    if (!isDefinedTool(tool)) {
      functions.push(`${head}(*args: Any, **kwargs: Any) -> Any: ...`);
      continue;
    }
    const input = jsonSchemaOf(tool.input, "input");
    const output = jsonSchemaOf(tool.output, "output");
    const base = pascal(name);
    const types = new PyTypes(classes, names);
    const result = output === undefined ? "Any" : types.of(output, output, `${base}Result`, 0);
    let params: string;
    const docs: string[] = [];
    if (input === undefined) {
      params = "*args: Any, **kwargs: Any";
    } else if (isObjectSchema(input)) {
      const required = new Set(input.required ?? []);
      const entries = Object.entries(input.properties ?? {});
      const parts = entries
        .sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)))
        .map(([key, property]) => {
          const type = types.of(property, input, `${base}${pascal(key)}`, 1);
          if (typeof property === "object" && property.description) {
            docs.push(`    ${key}: ${property.description}`);
          }
          if (required.has(key)) return `${key}: ${type}`;
          const literal = typeof property === "object"
            ? pythonLiteral(property.default)
            : undefined;
          return literal !== undefined
            ? `${key}: ${type} = ${literal}`
            : `${key}: ${type} | None = None`;
        });
      params = parts.length > 0 ? `*, ${parts.join(", ")}` : "";
    } else {
      params = `value: ${types.of(input, input, `${base}Input`, 0)}, /`;
    }
    const docstring = [tool.description ?? "", ...(docs.length > 0 ? ["", "Args:", ...docs] : [])]
      .join("\n").trim();
    const escaped = docstring.replaceAll('"""', '\\"\\"\\"');
    const doc = docstring === ""
      ? " ..."
      : !escaped.includes("\n")
      ? `\n    """${escaped}"""`
      : `\n    """${
        escaped.split("\n").map((line) => line === "" ? "" : `    ${line}`).join("\n").slice(4)
      }\n    """`;
    functions.push(`${head}(${params}) -> ${result}:${doc}`);
  }
  return [
    "# module tools",
    "from typing import Any, Literal, TypedDict",
    "",
    'class ToolError(Exception):\n    """A tool failed: its message says why."""\n',
    ...classes.map((c) => `${c}\n`),
    functions.join("\n\n"),
  ].join("\n");
}

const PY_KEYWORDS = new Set([
  "False",
  "None",
  "True",
  "and",
  "as",
  "assert",
  "async",
  "await",
  "break",
  "class",
  "continue",
  "def",
  "del",
  "elif",
  "else",
  "except",
  "finally",
  "for",
  "from",
  "global",
  "if",
  "import",
  "in",
  "is",
  "lambda",
  "nonlocal",
  "not",
  "or",
  "pass",
  "raise",
  "return",
  "try",
  "while",
  "with",
  "yield",
]); // deno-fmt-ignore

function pascal(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[A-Za-z]/.test(joined) ? joined : `T${joined}`;
}

/** Python type hints of JSON Schemas; object schemas become `TypedDict` classes. */
class PyTypes {
  #classes: string[];
  #names: Set<string>;

  constructor(classes: string[], names: Set<string>) {
    this.#classes = classes;
    this.#names = names;
  }

  of(schema: JsonSchema | boolean, root: JsonSchema, name: string, depth: number): string {
    if (schema === true || schema === false || depth > 12) return "Any";
    const resolved = deref(schema, root);
    if (resolved !== schema) return this.of(resolved, root, name, depth + 1);
    const optional = schema.nullable === true ? " | None" : "";
    const literal = (v: unknown) => pythonLiteral(v) ?? JSON.stringify(v);
    if (schema.const !== undefined) return `Literal[${literal(schema.const)}]${optional}`;
    if (schema.enum) return `Literal[${schema.enum.map(literal).join(", ")}]${optional}`;
    const union = schema.anyOf ?? schema.oneOf;
    if (union) {
      return [...new Set(union.map((s, i) => this.of(s, root, `${name}${i}`, depth + 1)))]
        .join(" | ") + optional;
    }
    const types = typesOf(schema);
    if (types.length === 0) return "Any";
    return types.map((type) => {
      switch (type) {
        case "string":
          return "str";
        case "integer":
          return "int";
        case "number":
          return "float";
        case "boolean":
          return "bool";
        case "null":
          return "None";
        case "array": {
          const items = Array.isArray(schema.items) ? undefined : schema.items;
          return `list[${items ? this.of(items, root, `${name}Item`, depth + 1) : "Any"}]`;
        }
        case "object":
          return this.#typedDict(schema, root, name, depth);
        default:
          return "Any";
      }
    }).join(" | ") + optional;
  }

  #typedDict(schema: JsonSchema, root: JsonSchema, name: string, depth: number): string {
    const properties = Object.entries(schema.properties ?? {});
    if (properties.length === 0 || properties.some(([key]) => !PY_IDENTIFIER.test(key))) {
      const extra = schema.additionalProperties;
      return `dict[str, ${
        typeof extra === "object" ? this.of(extra, root, `${name}Value`, depth + 1) : "Any"
      }]`;
    }
    let className = name;
    for (let i = 2; this.#names.has(className); i++) className = `${name}${i}`;
    this.#names.add(className);
    const required = new Set(schema.required ?? []);
    const total = properties.every(([key]) => required.has(key));
    const lines = [`class ${className}(TypedDict${total ? "" : ", total=False"}):`];
    if (schema.description) lines.push(`    """${schema.description.replaceAll('"""', "'''")}"""`);
    for (const [key, property] of properties) {
      const type = this.of(property, root, `${className}${pascal(key)}`, depth + 1);
      const comment = typeof property === "object" && property.description
        ? `  # ${property.description.split("\n")[0]}`
        : "";
      lines.push(`    ${key}: ${type}${comment}`);
    }
    this.#classes.push(lines.join("\n"));
    return className;
  }
}

/** A JSON default as a Python literal (scalars only), or `undefined`. */
function pythonLiteral(value: unknown): string | undefined {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return undefined;
}

/** The JSON types a schema names, or implies by its keywords (`properties`, `items`). */
function typesOf(schema: JsonSchema): string[] {
  if (schema.type === undefined) {
    return schema.properties ? ["object"] : schema.items ? ["array"] : [];
  }
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}
