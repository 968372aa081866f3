/**
 * Splits a byte stream into UTF-8 text lines (without the `\n`). Used on both sides of the
 * sandbox pipe; no npm imports. Linear in the input: each chunk is searched once, and a long
 * line is joined from its pieces once. A line longer than `maxLineLength` characters makes the
 * iterator throw a `RangeError`. With `dropUnterminated`, text after the last `\n` is dropped at
 * the end (a writer that died mid-line).
 *
 * @example
 * ```ts
 * import { readLines } from "./lines.ts";
 * const body = new Blob(["a\nb\n"]).stream();
 * const lines: string[] = [];
 * for await (const line of readLines(body)) lines.push(line);
 * console.assert(lines.join() === "a,b");
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLineLength = Infinity,
  dropUnterminated = false,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pieces: string[] = [];
  let pending = 0;
  for await (const chunk of chunks(stream)) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    let end: number;
    while ((end = text.indexOf("\n", start)) !== -1) {
      if (pending + end - start > maxLineLength) throw tooLong(maxLineLength);
      pieces.push(text.slice(start, end));
      yield pieces.length === 1 ? pieces[0]! : pieces.join("");
      pieces = [];
      pending = 0;
      start = end + 1;
    }
    if (start < text.length) {
      pieces.push(start === 0 ? text : text.slice(start));
      pending += text.length - start;
      if (pending > maxLineLength) throw tooLong(maxLineLength);
    }
  }
  pieces.push(decoder.decode());
  const last = pieces.join("");
  // What a writer that died mid-line left is not a line, for a reader that says so.
  if (last !== "" && !dropUnterminated) yield last;
}

function tooLong(maxLineLength: number): RangeError {
  return new RangeError(`Line is longer than ${maxLineLength} characters`);
}

/**
 * The chunks of a byte stream, read into one reused buffer (no allocation per read) when the
 * stream supports BYOB readers, as Deno's pipes and files do.
 */
export async function* chunks(
  stream: ReadableStream<Uint8Array>,
  size = 64 * 1024,
): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    yield* stream;
    return;
  }
  let buffer = new ArrayBuffer(size);
  try {
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (done || !value) return;
      yield value;
      buffer = value.buffer as ArrayBuffer;
    }
  } finally {
    reader.releaseLock();
  }
}
