/**
 * Splits a byte stream into UTF-8 text lines (without the `\n`). Used on both sides of the
 * sandbox pipe; no npm imports. Rejects a line longer than `maxLineLength` characters by
 * throwing a `RangeError` from the iterator.
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
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    let end: number;
    while ((end = pending.indexOf("\n", start)) !== -1) {
      yield pending.slice(start, end);
      start = end + 1;
    }
    pending = start === 0 ? pending : pending.slice(start);
    if (pending.length > maxLineLength) {
      throw new RangeError(`Line is longer than ${maxLineLength} characters`);
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}
