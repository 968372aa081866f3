/**
 * Measuring and cutting text in UTF-8 bytes, the unit of every output and argument limit. Used
 * by the server and, serialised with `Function.prototype.toString` into the sandbox workers'
 * source (see `realm.ts`), by the runners: so each function uses nothing outside itself.
 *
 * @module
 */

/**
 * Bytes of `text` in UTF-8, without encoding it (a lone surrogate counts 3, as
 * `TextEncoder` writes U+FFFD for it).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./text.ts";
 * console.assert(utf8Length("aé中😀") === 1 + 2 + 3 + 4);
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        i++; // A pair: 4 bytes for 2 units.
        bytes += 2;
      } else {
        bytes += 2;
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * `text` cut into pieces of at most `maxUnits` UTF-16 units, never inside a surrogate pair.
 *
 * @example
 * ```ts
 * import { splitText } from "./text.ts";
 * console.assert(splitText("ab😀", 3).join("|") === "ab|😀");
 * ```
 */
export function splitText(text: string, maxUnits: number): string[] {
  if (text.length <= maxUnits) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + maxUnits);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - start > 1 && last >= 0xd800 && last < 0xdc00) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

/**
 * Bytes of `text` as it travels in a JSON string (a frame, a line): UTF-8, with `"` and `\\`
 * escaped in 2 bytes, control characters in 2 (`\\n`) or 6 (`\\u0001`), and a lone surrogate
 * in 6, as `JSON.stringify` writes them. Output and error texts are counted this way, so that
 * the frame that carries them is bounded by their limits.
 *
 * @example
 * ```ts
 * import { jsonLength } from "./text.ts";
 * console.assert(jsonLength('a"é\n\u0001😀') === 1 + 2 + 2 + 2 + 6 + 4);
 * ```
 */
export function jsonLength(text: string): number {
  // (Self-contained: serialised into the sandbox workers.)
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x80) bytes += c === 0x22 || c === 0x5c ? 2 : 1;
    else if (c < 0x20) bytes += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xe000) {
      const next = text.charCodeAt(i + 1);
      if (c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 6;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * `text` cut to at most `maxBytes` of {@linkcode jsonLength} (never inside a surrogate pair),
 * with `marker` after the cut; `text` itself when it fits.
 *
 * @example
 * ```ts
 * import { clipText } from "./text.ts";
 * console.assert(clipText("héllo", 3, "…") === "hé…");
 * console.assert(clipText("a\u0001b", 6, "…") === "a…");
 * ```
 */
export function clipText(text: string, maxBytes: number, marker: string): string {
  if (text.length * 6 <= maxBytes) return text;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let size: number;
    if (c >= 0x20 && c < 0x80) size = c === 0x22 || c === 0x5c ? 2 : 1;
    else if (c < 0x20) size = c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c < 0xe000) {
      const next = text.charCodeAt(i + 1);
      size = c < 0xdc00 && next >= 0xdc00 && next < 0xe000 ? 4 : 6;
    } else size = 3;
    if (bytes + size > maxBytes) return text.slice(0, i) + marker;
    bytes += size;
    if (size === 4) i++;
  }
  return text;
}
