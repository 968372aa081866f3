/**
 * Parsing and checking a JSON request body, the same on the main thread (small bodies) and in
 * the parser worker (large ones, see `json_parser.ts`): one outcome type, no exceptions.
 *
 * @module
 */
import type { z } from "zod";
import type { ProblemCode } from "../protocol.ts";
import {
  ExecuteCodeRequestSchema,
  ExecuteCodeStepRequestSchema,
  ToolResultRequestSchema,
} from "./schemas.ts";

/** The request bodies the server reads, by name (a name crosses to the worker; a schema cannot). */
export const BODY_SCHEMAS = {
  execute: ExecuteCodeRequestSchema,
  tool_result: ToolResultRequestSchema,
  step: ExecuteCodeStepRequestSchema,
} as const;

/** The name of a request body's schema. */
export type BodySchema = keyof typeof BODY_SCHEMAS;

/** What parsing a body gave: the checked body, or the problem to answer. */
export type Parsed =
  | { ok: true; body: unknown }
  | { ok: false; status: 400 | 422; code: ProblemCode; detail: string };

/**
 * Decodes `bytes` as UTF-8 JSON and checks it against the schema: `400 malformed_json` for
 * bytes that are not JSON, `422 invalid_body` for JSON of the wrong shape (as the reference,
 * FastAPI, answers).
 *
 * @example
 * ```ts
 * import { parseBody } from "./json_body.ts";
 * const parsed = parseBody(new TextEncoder().encode('{"code":"1","tool_names":[]}'), "execute");
 * console.assert(parsed.ok);
 * ```
 */
export function parseBody(bytes: Uint8Array, schema: BodySchema): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      status: 400,
      code: "malformed_json",
      detail: `Request body is not valid JSON: ${why}`,
    };
  }
  const parsed = (BODY_SCHEMAS[schema] as z.ZodType).safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      status: 422,
      code: "invalid_body",
      detail: `Invalid request body: ${describeIssues(parsed.error)}`,
    };
  }
  return { ok: true, body: parsed.data };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ");
}
