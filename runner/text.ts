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
 * `text` cut to at most `maxBytes` of UTF-8 (never inside a surrogate pair), with `marker`
 * after the cut; `text` itself when it fits.
 *
 * @example
 * ```ts
 * import { clipText } from "./text.ts";
 * console.assert(clipText("héllo", 3, "…") === "hé…");
 * ```
 */
export function clipText(text: string, maxBytes: number, marker: string): string {
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c < 0xdc00 && i + 1 < text.length &&
      text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) < 0xe000;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > maxBytes) return text.slice(0, i) + marker;
    bytes += size;
    if (pair) i++;
  }
  return text;
}
