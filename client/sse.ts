/**
 * A server-sent events reader for `fetch` response bodies: yields the `data` of each event.
 * Runtime-neutral (web streams only). Linear in the input: each chunk is scanned once, and a
 * line that spans chunks is joined once (a 4 MiB frame costs what reading it costs). Lines end
 * with CRLF, LF or CR, as the specification allows, also when a CRLF is split across chunks.
 *
 * @module
 */

/**
 * Yields the data of each event in an SSE byte stream. Comments (keepalives) and fields other
 * than `data` are skipped; multi-line data is joined with `\n`.
 *
 * @example
 * ```ts
 * import { readEvents } from "./sse.ts";
 * const body = new Blob([": keepalive\r\n\r\ndata: {\"a\":1}\r\n\r\n"]).stream();
 * for await (const data of readEvents(body)) console.assert(data === '{"a":1}');
 * ```
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const parser = new EventParser();
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      yield* parser.feed(text);
      if (done) break;
    }
    yield* parser.end();
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Splits text into lines and lines into events; feed it text as it arrives. */
export class EventParser {
  /** Pieces of the line not ended yet. */
  #pieces: string[] = [];
  /** The last chunk ended with CR: an LF first in the next one belongs to it. */
  #afterCr = false;
  #data: string[] = [];

  /** The events `text` completes. */
  *feed(text: string): Generator<string> {
    let start = 0;
    if (this.#afterCr && text.startsWith("\n")) start = 1;
    this.#afterCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#pieces.push(text.slice(start, i));
      const line = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join("");
      this.#pieces = [];
      if (c === 13) {
        if (i + 1 === text.length) this.#afterCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const event = this.#line(line);
      if (event !== undefined) yield event;
    }
    if (start < text.length) this.#pieces.push(start === 0 ? text : text.slice(start));
  }

  /** What is left at the end of the stream: an event not followed by a blank line. */
  *end(): Generator<string> {
    if (this.#pieces.length > 0) {
      const event = this.#line(this.#pieces.join(""));
      this.#pieces = [];
      if (event !== undefined) yield event;
    }
    if (this.#data.length > 0) yield this.#data.join("\n");
    this.#data = [];
  }

  #line(line: string): string | undefined {
    if (line === "") {
      if (this.#data.length === 0) return undefined;
      const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join("\n");
      this.#data = [];
      return data;
    }
    if (line.startsWith("data:")) this.#data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    else if (line === "data") this.#data.push("");
    return undefined;
  }
}
