/**
 * Bytes of a text in UTF-8, as the server counts every limit it enforces on what it receives or
 * builds (arguments, results, outputs, request texts).
 *
 * @module
 */
import { Buffer } from "node:buffer";

/**
 * Bytes of `text` in UTF-8, without encoding it: V8's own count (a lone surrogate counts 3, as
 * `TextEncoder` writes U+FFFD for it). The sandbox's `utf8Length` (`sandbox/text.ts`) counts the
 * same in a loop that runs inside a worker with nothing imported; here, a 1 MB argument took
 * ~2 ms that way, ~0.02 ms this way (560 such calls in one step: 2 s of the server's CPU).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./utf8_length.ts";
 * console.assert(utf8Length("aé中😀\ud800") === 1 + 2 + 3 + 4 + 3);
 * ```
 */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
