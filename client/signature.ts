/**
 * What the declarations and stubs of `describeTools` read from a tool: the parameters of a plain
 * function (so that its declaration says how it is called: positionally), and JSON Schema
 * helpers both languages share.
 *
 * @module
 */
import type { JsonSchema } from "./schema.ts";

/**
 * The parameter names of a plain function, when each is a plain identifier (`(a, b) => a + b`,
 * `function add(a, b) {…}`, `async (city) => …`); `undefined` for anything else (defaults,
 * destructuring, rest parameters, native or bound functions), whose declaration then takes
 * any positional arguments.
 *
 * @example
 * ```ts
 * import { parameterNames } from "./signature.ts";
 * console.assert(parameterNames((a: number, b: number) => a + b)?.join() === "a,b");
 * console.assert(parameterNames((...xs: number[]) => xs.length) === undefined);
 * ```
 */
export function parameterNames(fn: (...args: never[]) => unknown): string[] | undefined {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn).trim();
  } catch {
    return undefined;
  }
  if (source.includes("[native code]")) return undefined;
  source = source.replace(/^async\s+/, "");
  const single = source.match(/^([A-Za-z_$][\w$]*)\s*=>/);
  if (single) return [single[1]!];
  const open = source.indexOf("(");
  const close = source.indexOf(")", open);
  if (open === -1 || close === -1) return undefined;
  const head = source.slice(0, open).trim();
  // `function name`, `function`, a method's name, or nothing (an arrow function).
  if (!/^(?:function\s*\*?\s*[\w$]*|[\w$]*)$/.test(head)) return undefined;
  const list = source.slice(open + 1, close).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, "").trim();
  if (list === "") return [];
  const names = list.split(",").map((name) => name.trim());
  if (names.at(-1) === "") names.pop(); // a trailing comma
  return names.every((name) => /^[A-Za-z_$][\w$]*$/.test(name)) ? names : undefined;
}

/** The schema a local `$ref` points at (`#/$defs/…`, `#/definitions/…`), or the schema. */
export function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const match = schema.$ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
  const defs = match?.[1] === "$defs" ? root.$defs : root.definitions;
  return (match && defs?.[decodeURIComponent(match[2]!)]) || {};
}

/** The JSON types a schema names, or implies by its keywords (`properties`, `items`). */
export function typesOf(schema: JsonSchema): string[] {
  if (schema.type === undefined) {
    return schema.properties ? ["object"] : schema.items ? ["array"] : [];
  }
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}
