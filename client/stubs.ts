/**
 * `describeTools` for Python: the tools as the stubs of a module `tools`, with type hints from
 * each tool's JSON Schema and docstrings from its descriptions.
 *
 * @module
 */
import { type JsonSchema, jsonSchemaOf } from "./schema.ts";
import { deref, parameterNames, typesOf } from "./signature.ts";
import { isDefinedTool, isObjectSchema, type Tool } from "./tools.ts";

const PY_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The tools as the stubs of a Python module `tools`: one coroutine each, with type hints
 * (`TypedDict`s for objects) and docstrings; an object input as keyword-only parameters, any
 * other input and a plain function's parameters as positional-only ones. With `toolErrors`, the
 * `ToolError` a failed tool raises.
 */
export function pythonStubs(tools: Record<string, Tool>, toolErrors = true): string {
  const classes: string[] = [];
  const functions: string[] = [];
  const names = new Set<string>();
  for (const [name, tool] of Object.entries(tools)) {
    const valid = PY_IDENTIFIER.test(name) && !PY_KEYWORDS.has(name);
    const head = valid
      ? `async def ${name}`
      : `# importable as: import tools; getattr(tools, ${JSON.stringify(name)})\nasync def _`;
    if (!isDefinedTool(tool)) {
      functions.push(`${head}(${positional(parameterNames(tool))}) -> Any: ...`);
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
    ...(toolErrors
      ? ['class ToolError(Exception):\n    """A tool failed: its message says why."""\n']
      : []),
    ...classes.map((c) => `${c}\n`),
    functions.join("\n\n"),
  ].join("\n");
}

/** A plain function's parameters, positional-only; any positional arguments when unknown. */
function positional(names: string[] | undefined): string {
  if (!names || names.some((name) => !PY_IDENTIFIER.test(name) || PY_KEYWORDS.has(name))) {
    return "*args: Any";
  }
  return names.length === 0 ? "" : `${names.map((name) => `${name}: Any`).join(", ")}, /`;
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
