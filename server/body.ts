/**
 * Reads a JSON request body with a size limit and checks it against a schema.
 *
 * @module
 */
import type { z } from "zod";
import { HttpProblem } from "./problem.ts";

/** Reads at most `maxBytes` of `request`'s body; a larger body is a 413. */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  while (true) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      // The connection broke or the framing was bad (a short body, a bad chunk): the client's
      // doing, so a 400 (if anyone is left to read it), never a 500.
      const why = error instanceof Error ? error.message : String(error);
      throw new HttpProblem(400, "body_incomplete", `The request body could not be read: ${why}`);
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** A request body and its size in bytes. */
export interface Sized<T> {
  body: T;
  /** Bytes of the request body: an upper bound on the JSON size of anything inside it. */
  bytes: number;
}

/** Reads, parses and validates a JSON body. */
export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  maxBytes: number,
): Promise<Sized<z.infer<S>>> {
  const type = request.headers.get("content-type") ?? "application/json";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new HttpProblem(415, "unsupported_media_type", `Expected application/json, got ${type}`);
  }
  const bytes = await readBody(request, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new HttpProblem(400, "malformed_json", `Request body is not valid JSON: ${why}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    // JSON of the wrong shape: 422, as the reference (FastAPI) answers.
    throw new HttpProblem(
      422,
      "invalid_body",
      `Invalid request body: ${describeIssues(parsed.error)}`,
    );
  }
  return { body: parsed.data, bytes: bytes.byteLength };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ");
}

function tooLarge(maxBytes: number): HttpProblem {
  return new HttpProblem(
    413,
    "body_too_large",
    `Request body exceeds the limit of ${maxBytes} bytes`,
  );
}

/**
 * The JSON size of `value` when it exceeds `limit` bytes, else `undefined`. `upperBound` is the
 * size of the request that carried the value: within the limit, nothing is serialised.
 */
export function jsonOverLimit(
  value: unknown,
  limit: number,
  upperBound: number,
): number | undefined {
  if (upperBound <= limit) return undefined;
  const size = new TextEncoder().encode(JSON.stringify(value ?? null)).byteLength;
  return size > limit ? size : undefined;
}

/** Why a tool result was refused. */
export function resultTooLarge(size: number, limit: number): string {
  return `The tool's result of ${size} bytes exceeds the limit of ${limit}`;
}
