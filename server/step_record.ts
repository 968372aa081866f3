/**
 * One answered tool call as a state records it (the step state, and each program of a session
 * state): the hash of the call, and its result or the error its tool raised.
 *
 * @module
 */
import { z } from "zod";
import { jsonTextOf } from "../runner/host_messages.ts";

/** Schema of {@linkcode StepRecord}. */
export const RecordSchema: z.ZodType<StepRecord> = z.union([
  z.object({ h: z.string(), r: z.unknown() }),
  z.object({ h: z.string(), e: z.string() }),
]);

/** One answered call: the call's hash, and its result (`r`) or its tool's error (`e`). */
export type StepRecord = { h: string; r: unknown } | { h: string; e: string };

/**
 * The JSON of answered calls by key; a result may be a `JsonText`, spliced in as it is.
 *
 * @example
 * ```ts
 * import { recordsJson } from "./step_record.ts";
 * console.assert(recordsJson({ "0#0": { h: "x", r: 1 } }) === '{"0#0":{"h":"x","r":1}}');
 * ```
 */
export function recordsJson(records: Record<string, StepRecord>): string {
  const entries = Object.entries(records).map(([key, record]) => {
    const answer = "e" in record
      ? `"e":${JSON.stringify(record.e)}`
      : `"r":${jsonTextOf(record.r)}`;
    return `${JSON.stringify(key)}:{"h":${JSON.stringify(record.h)},${answer}}`;
  });
  return `{${entries.join(",")}}`;
}

/**
 * `value` as JSON with some of its fields written by their `writers` (JSON text spliced in
 * where the field stands): `JSON.stringify` gives the rest. One pass over the text
 * `JSON.stringify` made, so a spliced text is never searched; a string that holds `"field":0`
 * is escaped there (`\"field\":0`), so only the field itself matches.
 *
 * @example
 * ```ts
 * import { spliceJson } from "./step_record.ts";
 * console.assert(spliceJson({ a: 1, b: 2 }, { b: () => "[2]" }) === '{"a":1,"b":[2]}');
 * ```
 */
export function spliceJson<T extends object>(
  value: T,
  writers: Partial<Record<keyof T & string, () => string>>,
): string {
  const fields = Object.keys(writers);
  if (fields.length === 0) return JSON.stringify(value);
  const placeholders = Object.fromEntries(fields.map((field) => [field, 0]));
  const left = new Set(fields);
  const pattern = new RegExp(`"(${fields.join("|")})":0`, "g");
  return JSON.stringify({ ...value, ...placeholders }).replace(pattern, (match, field: string) => {
    if (!left.delete(field)) return match;
    return `"${field}":${(writers as Record<string, () => string>)[field]!()}`;
  });
}
