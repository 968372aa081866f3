/**
 * Reads a JSON request body with a size limit and checks it against a schema.
 *
 * @module
 */
import type { z } from "zod";
import { JsonText } from "../runner/host_messages.ts";
import type { BODY_SCHEMAS, BodySchema } from "./json_body.ts";
import type { JsonParser } from "./json_parser.ts";
import { HttpProblem } from "./problem.ts";

/**
 * Reads at most `maxBytes` of `request`'s body within `timeoutMs`; a larger body is a 413, a
 * slower one a 408 (a connection that trickles its body must not stay active forever).
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  timeoutMs = Infinity,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  let timedOut = false;
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => {
      timedOut = true;
      reader.cancel().catch(() => {});
    }, timeoutMs)
    : undefined;
  try {
    return await readAll();
  } finally {
    clearTimeout(timer);
  }

  async function readAll(): Promise<Uint8Array> {
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (timedOut) throw bodyTimeout(timeoutMs);
        // The connection broke or the framing was bad (a short body, a bad chunk): the client's
        // doing, so a 400 (if anyone is left to read it), never a 500.
        const why = error instanceof Error ? error.message : String(error);
        throw new HttpProblem(400, "body_incomplete", `The request body could not be read: ${why}`);
      }
      const { done, value } = chunk;
      if (timedOut) throw bodyTimeout(timeoutMs);
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
}

/** A request body and its size in bytes. */
export interface Sized<T> {
  body: T;
  /** Bytes of the request body: an upper bound on the JSON size of anything inside it. */
  bytes: number;
}

/**
 * Reads, parses and checks a JSON body (`415` for another media type). Large bodies are parsed
 * by `parser` off the main thread, their tool results left as {@linkcode JsonText}.
 */
export async function readJson<S extends BodySchema>(
  request: Request,
  schema: S,
  limits: { maxBytes: number; timeoutMs: number },
  parser: JsonParser,
): Promise<Sized<z.infer<(typeof BODY_SCHEMAS)[S]>>> {
  const type = request.headers.get("content-type") ?? "application/json";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new HttpProblem(415, "unsupported_media_type", `Expected application/json, got ${type}`);
  }
  const bytes = await readBody(request, limits.maxBytes, limits.timeoutMs);
  const size = bytes.byteLength;
  const parsed = await parser.parse(bytes, schema);
  if (!parsed.ok) throw new HttpProblem(parsed.status, parsed.code, parsed.detail);
  return { body: parsed.body as z.infer<(typeof BODY_SCHEMAS)[S]>, bytes: size };
}

function bodyTimeout(timeoutMs: number): HttpProblem {
  return new HttpProblem(
    408,
    "body_timeout",
    `The request body did not arrive within ${timeoutMs / 1000} s`,
    { connection: "close" },
  );
}

function tooLarge(maxBytes: number): HttpProblem {
  return new HttpProblem(
    413,
    "body_too_large",
    `Request body exceeds the limit of ${maxBytes} bytes`,
    { connection: "close" },
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
  const size = value instanceof JsonText
    ? value.bytes
    : new TextEncoder().encode(JSON.stringify(value ?? null)).byteLength;
  return size > limit ? size : undefined;
}

/** Why a tool result was refused. */
export function resultTooLarge(size: number, limit: number): string {
  return `The tool's result of ${size} bytes exceeds the limit of ${limit}`;
}
