/**
 * The parser worker of `json_parser.ts`: parses and checks one body at a time, and sends back
 * its tool results as JSON text (strings cross threads as a copy; objects would be rebuilt).
 *
 * @module
 */
import { utf8Length } from "./utf8_length.ts";
import { type BodySchema, parseBody } from "./json_body.ts";
import type { WorkerAnswer } from "./json_parser.ts";

interface Request {
  id: number;
  bytes: Uint8Array;
  schema: BodySchema;
}

/** This worker's scope (the file is type-checked with the main program's window types). */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<Request>) => void;
  postMessage(answer: WorkerAnswer): void;
};

scope.onmessage = ({ data }) => {
  const parsed = parseBody(data.bytes, data.schema);
  if (!parsed.ok) return scope.postMessage({ id: data.id, ...parsed });
  const body = parsed.body as Record<string, unknown>;
  const texts: NonNullable<WorkerAnswer["texts"]> = [];
  const take = (path: (string | number)[], value: unknown) => {
    const text = JSON.stringify(value) ?? "null";
    texts.push({ path, text, bytes: utf8Length(text) });
  };
  if (data.schema === "tool_result" && "result" in body) {
    take(["result"], body.result);
    body.result = null;
  }
  if (data.schema === "step" && Array.isArray(body.tool_results)) {
    body.tool_results.forEach((result, index) => {
      take(["tool_results", index], result);
      (body.tool_results as unknown[])[index] = null;
    });
  }
  scope.postMessage({ id: data.id, ok: true, body, texts });
};
