/**
 * `describeTools` for TypeScript and JavaScript: the tools as a `declare module "tools"` whose
 * types come from each tool's JSON Schema, with JSDoc from its descriptions.
 *
 * @module
 */
import { type JsonSchema, jsonSchemaOf } from "./schema.ts";
import { deref, parameterNames, typesOf } from "./signature.ts";
import { isDefinedTool, isObjectSchema, type Tool } from "./tools.ts";

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The tools as a `declare module "tools"`: one async function each, with JSDoc from its
 * description and schemas; a plain function with its parameters' names, taken positionally.
 */
export function typeScriptDeclarations(tools: Record<string, Tool>): string {
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
      const names = parameterNames(tool);
      const params = names ? names.map((n) => `${n}: unknown`).join(", ") : "...args: unknown[]";
      lines.push(`  ${exported}function ${local}(${params}): Promise<unknown>;`);
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
