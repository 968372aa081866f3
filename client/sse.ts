/**
 * A minimal server-sent events reader for `fetch` response bodies: yields the `data` of each
 * event. Runtime-neutral (web streams only).
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
 * const body = new Blob([": keepalive\n\ndata: {\"a\":1}\n\n"]).stream();
 * for await (const data of readEvents(body)) console.assert(data === '{"a":1}');
 * ```
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        buffer = buffer.slice(newline + width);
        if (line === "") {
          if (data.length > 0) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
      if (done) break;
    }
    if (data.length > 0) yield data.join("\n");
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
