/**
 * Hints for a model whose program ran in the wrong language: a syntax error of Python code
 * sent to a server that ran it as TypeScript (or the reverse) says so, and how to fix it.
 *
 * @module
 */
import type { Language } from "../protocol.ts";

const PYTHON = [
  /^\s*(async\s+)?def\s+\w+\s*\(.*\)\s*(->\s*[^:]+)?:\s*$/m,
  /^\s*from\s+[\w.]+\s+import\s+[\w*(]/m,
  /^\s*import\s+[\w.]+(\s+as\s+\w+)?\s*$/m,
  /^\s*(if|elif|while|for|with)\b[^{;]*:\s*$/m,
  /^\s*print\([^;]*\)\s*$/m,
];

const TYPESCRIPT = [
  /^\s*(const|let|var)\s+[\w{[]/m,
  /^\s*import\s*(\{[^}]*\}|\*\s+as\s+\w+|\w+)\s*from\s*["']/m,
  /\bconsole\.log\(/,
  /=>\s*[{(\w]/,
  /^\s*export\s+default\b/m,
];

/**
 * A line to add to a syntax error when `code` looks like another language than `language`
 * (two signs of it, at least), or `undefined`.
 *
 * @example
 * ```ts
 * import { languageHint } from "./hints.ts";
 * const python = "from tools import get\nprint(await get())";
 * console.assert(languageHint(python, "typescript")?.includes('"language": "python"'));
 * console.assert(languageHint(python, "python") === undefined);
 * ```
 */
export function languageHint(code: string, language: Language): string | undefined {
  const signs = (patterns: RegExp[]) => patterns.filter((p) => p.test(code)).length;
  if (language !== "python" && signs(PYTHON) >= 2 && signs(TYPESCRIPT) === 0) {
    return `Hint: this program looks like Python, but the server ran it as ${language}. ` +
      `Send it with "language": "python".\n`;
  }
  if (language === "python" && signs(TYPESCRIPT) >= 2 && signs(PYTHON) === 0) {
    return `Hint: this program looks like TypeScript, but the server ran it as Python. ` +
      `Send it with "language": "typescript".\n`;
  }
  return undefined;
}
