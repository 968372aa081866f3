/**
 * What `execute` answers the model: how the program ended, then its stdout, its stderr and its
 * returned value (JSON), each clipped so that the whole stays within a budget of characters. A
 * clipped part keeps its beginning and its end around a visible marker that says how much was
 * cut and what to do about it.
 *
 * @module
 */
import type { ExecuteCodeResult } from "../client/mod.ts";

/** The default budget of an answer, in characters (about 5,000 tokens). */
export const DEFAULT_MAX_RESULT_CHARS = 20_000;

const HEADLINES: Record<ExecuteCodeResult["type"], string> = {
  success: "The program ran to its end.",
  syntax_error: "The program did not start: syntax error.",
  runtime_error: "The program failed: runtime error.",
  timeout_error: "The program was stopped: it ran out of time.",
};

/**
 * The text of a result.
 *
 * @example
 * ```ts
 * import { formatResult } from "./result.ts";
 * const text = formatResult({ type: "success", stdout: "x".repeat(100), stderr: "" }, 60);
 * console.assert(text.includes("characters cut"));
 * ```
 */
export function formatResult(
  result: ExecuteCodeResult,
  maxChars = DEFAULT_MAX_RESULT_CHARS,
): string {
  const parts: [string, string][] = [];
  if (result.stdout !== "") parts.push(["stdout", result.stdout]);
  if (result.stderr !== "") parts.push(["stderr", result.stderr]);
  if (result.value !== undefined) parts.push(["value (JSON)", JSON.stringify(result.value)]);
  const head = HEADLINES[result.type] +
    (result.session_id && !result.session_ended ? ` Session: ${result.session_id}.` : "");
  if (parts.length === 0) return `${head} It printed nothing and returned nothing.`;
  // Parts under their fair share keep all; the others share what is left.
  const budget = Math.max(0, maxChars - head.length - parts.length * 20);
  const sizes = parts.map(([, text]) => text.length);
  const limits = share(sizes, budget);
  return [
    head,
    ...parts.map(([label, text], i) => `--- ${label} ---\n${clip(text, limits[i]!)}`),
  ].join("\n");
}

/** Splits `budget` between parts of `sizes`: small ones whole, the rest evenly. */
function share(sizes: number[], budget: number): number[] {
  const limits = sizes.map(() => 0);
  let left = budget;
  let open = sizes.map((_, i) => i);
  while (open.length > 0) {
    const fair = Math.floor(left / open.length);
    const small = open.filter((i) => sizes[i]! <= fair);
    if (small.length === 0) {
      for (const i of open) limits[i] = fair;
      break;
    }
    for (const i of small) {
      limits[i] = sizes[i]!;
      left -= sizes[i]!;
    }
    open = open.filter((i) => !small.includes(i));
  }
  return limits;
}

/** `text` within `max` characters: its beginning and end around a marker. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = (cut: number) =>
    `\n… [${cut} characters cut: print less, or return only what you need] …\n`;
  const room = Math.max(0, max - marker(text.length).length);
  const headLength = Math.ceil(room * 0.6);
  const tailLength = room - headLength;
  const cut = text.length - headLength - tailLength;
  return text.slice(0, headLength) + marker(cut) + (tailLength > 0 ? text.slice(-tailLength) : "");
}
