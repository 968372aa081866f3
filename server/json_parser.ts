/**
 * Parses large request bodies off the main thread. JSON.parse of 10 MiB of small objects takes
 * ~160 ms, and a server that does it on its event loop stalls every execution for that long. A
 * body over {@linkcode INLINE_BYTES} goes to one worker, which parses and checks it and sends
 * back the body with its tool results as JSON text ({@linkcode JsonText}): the main thread
 * never builds them, it forwards their text to the sandbox.
 *
 * @module
 */
import { JsonText } from "../runner/host_messages.ts";
import { type BodySchema, parseBody, type Parsed } from "./json_body.ts";

/** Bodies up to this size are parsed on the main thread (at most a few milliseconds). */
export const INLINE_BYTES = 512 * 1024;

/** What the worker answers for one body. */
export type WorkerAnswer = Parsed & {
  id: number;
  /** Tool results taken out of the body as JSON text: where they were, and the text. */
  texts?: { path: (string | number)[]; text: string; bytes: number }[];
};

/** The parser worker, made on first use. */
export class JsonParser {
  #worker: Worker | undefined;
  #pending = new Map<number, (answer: WorkerAnswer) => void>();
  #next = 0;

  /** Parses and checks `bytes`; large bodies in the worker, with tool results as JSON text. */
  parse(bytes: Uint8Array, schema: BodySchema): Promise<Parsed> {
    if (bytes.byteLength <= INLINE_BYTES) return Promise.resolve(parseBody(bytes, schema));
    const id = this.#next++;
    const worker = this.#worker ??= this.#start();
    const { promise, resolve } = Promise.withResolvers<WorkerAnswer>();
    this.#pending.set(id, resolve);
    // The body is the worker's now: transferred, not copied.
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes
      : bytes.slice();
    worker.postMessage({ id, bytes: owned, schema }, [owned.buffer as ArrayBuffer]);
    return promise.then(withTexts);
  }

  /** Stops the worker; bodies still being parsed fail. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#failAll("the server is shutting down");
  }

  #start(): Worker {
    const worker = new Worker(new URL("./json_parser_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = ({ data }: MessageEvent<WorkerAnswer>) => {
      const resolve = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      resolve?.(data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#worker = undefined;
      worker.terminate();
      this.#failAll(`the body parser failed: ${event.message}`);
    };
    return worker;
  }

  #failAll(why: string): void {
    for (const [id, resolve] of this.#pending) {
      resolve({ id, ok: false, status: 400, code: "malformed_json", detail: why });
    }
    this.#pending.clear();
  }
}

function withTexts(answer: WorkerAnswer): Parsed {
  if (!answer.ok) return answer;
  for (const { path, text, bytes } of answer.texts ?? []) {
    let target = answer.body as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[path.at(-1)!] = new JsonText(text, bytes);
  }
  return { ok: true, body: answer.body };
}
