/**
 * The schemas a tool's input and output may be given as, without depending on any library:
 * a Standard Schema (zod 4, valibot, arktype, …; its JSON Schema through Standard JSON Schema
 * when the library provides it), or a plain JSON Schema object, checked here for the keywords
 * tools use.
 *
 * @module
 */

/** The Standard Schema interface (standardschema.dev), v1: what `~standard` holds. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The schema's Standard Schema properties. */
  readonly "~standard": {
    /** The Standard Schema version: 1. */
    readonly version: 1;
    /** The library that made the schema. */
    readonly vendor: string;
    /** Checks (and parses) a value. */
    readonly validate: (
      value: unknown,
    ) => StandardResult<Output> | Promise<StandardResult<Output>>;
    /** The input and output types, for type inference only. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    /** Standard JSON Schema (zod ≥ 4.2 and others): the schema as JSON Schema. */
    readonly jsonSchema?: {
      readonly input: (options: { target: string }) => Record<string, unknown>;
      readonly output: (options: { target: string }) => Record<string, unknown>;
    };
  };
}

/** A Standard Schema's answer: the (parsed) value, or the issues. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/** One problem a Standard Schema found. */
export interface StandardIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where in the value. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** A JSON Schema (the keywords progtc reads; others are kept and ignored). */
export interface JsonSchema {
  /** The value's type, or types. */
  type?: JsonSchemaType | JsonSchemaType[];
  /** What the value is, for the model. */
  description?: string;
  /** An object's properties. */
  properties?: Record<string, JsonSchema>;
  /** The properties an object must have. */
  required?: string[];
  /** Whether (or as what) an object may have other properties. */
  additionalProperties?: boolean | JsonSchema;
  /** An array's items (one schema for all, or one per position). */
  items?: JsonSchema | JsonSchema[];
  /** An array's first items, one schema per position. */
  prefixItems?: JsonSchema[];
  /** The values allowed. */
  enum?: unknown[];
  /** The one value allowed. */
  const?: unknown;
  /** Schemas of which the value matches at least one. */
  anyOf?: JsonSchema[];
  /** Schemas of which the value matches exactly one. */
  oneOf?: JsonSchema[];
  /** Schemas the value matches all of. */
  allOf?: JsonSchema[];
  /** OpenAPI 3.0: `null` is allowed too. */
  nullable?: boolean;
  /** The value used when the property is absent. */
  default?: unknown;
  /** The least number allowed. */
  minimum?: number;
  /** The greatest number allowed. */
  maximum?: number;
  /** Numbers must be greater. */
  exclusiveMinimum?: number;
  /** Numbers must be less. */
  exclusiveMaximum?: number;
  /** The fewest characters of a string. */
  minLength?: number;
  /** The most characters of a string. */
  maxLength?: number;
  /** The fewest items of an array. */
  minItems?: number;
  /** The most items of an array. */
  maxItems?: number;
  /** A reference to a schema in `$defs` or `definitions`. */
  $ref?: string;
  /** Schemas referred to by `$ref`. */
  $defs?: Record<string, JsonSchema>;
  /** Schemas referred to by `$ref` (drafts before 2019-09). */
  definitions?: Record<string, JsonSchema>;
  /** Any other keyword: kept, and ignored by the checks here. */
  [keyword: string]: unknown;
}

/** The JSON Schema type names. */
export type JsonSchemaType =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "null"
  | "array"
  | "object";

/** A schema of a tool's input or output. */
export type Schema<T = unknown> = StandardSchemaV1<unknown, T> | JsonSchema;

/** What a schema gives for a value: the value to use, or what is wrong with it. */
export type Checked<T> = { ok: true; value: T } | { ok: false; issues: string[] };

/** Whether `schema` is a Standard Schema. */
export function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  return typeof schema === "object" && schema !== null && "~standard" in schema;
}

/**
 * The JSON Schema of a schema, or `undefined` when it has none (a Standard Schema without
 * Standard JSON Schema).
 *
 * @example
 * ```ts
 * import { jsonSchemaOf } from "./schema.ts";
 * console.assert(jsonSchemaOf({ type: "string" })?.type === "string");
 * ```
 */
export function jsonSchemaOf(
  schema: Schema | undefined,
  io: "input" | "output" = "input",
): JsonSchema | undefined {
  if (schema === undefined) return undefined;
  if (!isStandardSchema(schema)) return schema;
  const converter = schema["~standard"].jsonSchema;
  if (!converter) return undefined;
  try {
    return converter[io]({ target: "draft-2020-12" }) as JsonSchema;
  } catch {
    return undefined;
  }
}

/**
 * Checks `value` against a schema: a Standard Schema validates (and may transform) it; a JSON
 * Schema is checked here. Issues read `path: message`.
 *
 * @example
 * ```ts
 * import { check, type JsonSchema } from "./schema.ts";
 * const schema: JsonSchema = {
 *   type: "object",
 *   properties: { city: { type: "string" } },
 *   required: ["city"],
 * };
 * const result = await check(schema, { city: 1 });
 * console.assert(!result.ok && result.issues[0] === "city: expected string, got integer");
 * ```
 */
export async function check<T>(schema: Schema<T>, value: unknown): Promise<Checked<T>> {
  if (isStandardSchema(schema)) {
    const result = await schema["~standard"].validate(value);
    if (!result.issues) return { ok: true, value: result.value as T };
    return { ok: false, issues: result.issues.map(describeIssue) };
  }
  const issues: string[] = [];
  validate(schema, value, [], issues, schema, 0);
  return issues.length === 0 ? { ok: true, value: value as T } : { ok: false, issues };
}

function describeIssue(issue: StandardIssue): string {
  const path = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p));
  return path.length > 0 ? `${path.join(".")}: ${issue.message}` : issue.message;
}

/** The JSON type of a value, as JSON Schema names it. */
function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matches(type: string, value: unknown): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

/** Resolves a local `$ref` (`#/$defs/x`, `#/definitions/x`). */
function resolve(root: JsonSchema, ref: string): JsonSchema | undefined {
  const match = ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
  if (!match) return undefined;
  const defs = match[1] === "$defs" ? root.$defs : root.definitions;
  return defs?.[decodeURIComponent(match[2]!)];
}

function validate(
  schema: JsonSchema | boolean,
  value: unknown,
  path: string[],
  issues: string[],
  root: JsonSchema,
  depth: number,
): void {
  const at = path.length > 0 ? `${path.join(".")}: ` : "";
  if (schema === true) return;
  if (schema === false) return void issues.push(`${at}not allowed`);
  if (depth > 32) return;
  if (schema.$ref) {
    const target = resolve(root, schema.$ref);
    if (target) validate(target, value, path, issues, root, depth + 1);
    return;
  }
  if (schema.nullable && value === null) return;
  const types = schema.type === undefined
    ? undefined
    : Array.isArray(schema.type)
    ? schema.type
    : [schema.type];
  if (types && !types.some((type) => matches(type, value))) {
    issues.push(`${at}expected ${types.join(" or ")}, got ${typeOf(value)}`);
    return;
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    issues.push(`${at}expected ${JSON.stringify(schema.const)}`);
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    issues.push(`${at}expected one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  }
  for (const sub of schema.allOf ?? []) validate(sub, value, path, issues, root, depth + 1);
  for (const [keyword, subs] of [["anyOf", schema.anyOf], ["oneOf", schema.oneOf]] as const) {
    if (!subs) continue;
    const passing = subs.filter((sub) => {
      const found: string[] = [];
      validate(sub, value, path, found, root, depth + 1);
      return found.length === 0;
    }).length;
    if (keyword === "anyOf" ? passing === 0 : passing !== 1) {
      issues.push(`${at}matches ${passing} of the ${subs.length} allowed shapes`);
    }
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      issues.push(`${at}shorter than ${schema.minLength} characters`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      issues.push(`${at}longer than ${schema.maxLength} characters`);
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      issues.push(`${at}less than ${schema.minimum}`);
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      issues.push(`${at}more than ${schema.maximum}`);
    }
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
      issues.push(`${at}not more than ${schema.exclusiveMinimum}`);
    }
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
      issues.push(`${at}not less than ${schema.exclusiveMaximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      issues.push(`${at}fewer than ${schema.minItems} items`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      issues.push(`${at}more than ${schema.maxItems} items`);
    }
    const tuple = schema.prefixItems ?? (Array.isArray(schema.items) ? schema.items : undefined);
    value.forEach((item, i) => {
      const sub = tuple ? tuple[i] : schema.items as JsonSchema | undefined;
      if (sub) validate(sub, item, [...path, String(i)], issues, root, depth + 1);
    });
  }
  if (typeOf(value) === "object") {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(object, name)) issues.push(`${[...path, name].join(".")}: required`);
    }
    for (const [name, item] of Object.entries(object)) {
      const sub = schema.properties?.[name];
      if (sub) validate(sub, item, [...path, name], issues, root, depth + 1);
      else if (schema.additionalProperties === false) {
        issues.push(`${[...path, name].join(".")}: not allowed`);
      } else if (typeof schema.additionalProperties === "object") {
        validate(schema.additionalProperties, item, [...path, name], issues, root, depth + 1);
      }
    }
  }
}
