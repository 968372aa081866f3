/**
 * Finds the `"tools"` module specifiers in a TypeScript or JavaScript program, so that the
 * sandbox can point them at the per-execution tools module. Runs in the server, where npm
 * packages are available; the sandbox only splices at the returned ranges.
 *
 * @module
 */
import { init, parse } from "es-module-lexer";
import type { SpecifierRange } from "./sandbox_protocol.ts";

/** The module name programs import their tools from. */
export const TOOLS_MODULE = "tools";

await init();

/**
 * Returns where `"tools"` is imported, statically or with a literal `import("tools")`.
 * Type-only imports are skipped (the transpiler erases them). Source that the lexer cannot
 * parse gets no ranges: the sandbox then reports the real syntax error.
 *
 * @example
 * ```ts
 * import { findToolsSpecifiers } from "./tools_specifiers.ts";
 * const ranges = findToolsSpecifiers(`import { a } from "tools";`);
 * console.assert(ranges.length === 1 && ranges[0]?.quoted === false);
 * ```
 */
export function findToolsSpecifiers(code: string): SpecifierRange[] {
  let imports;
  try {
    [imports] = parse(code);
  } catch {
    return [];
  }
  const ranges: SpecifierRange[] = [];
  for (const i of imports) {
    if (i.specifier !== TOOLS_MODULE) continue;
    if (i.type === "static" && !i.typeOnly) {
      ranges.push({ start: i.start, end: i.end, quoted: false });
    } else if (i.type === "dynamic" && !i.glob) {
      ranges.push({ start: i.start, end: i.end, quoted: true });
    }
  }
  return ranges;
}
