/**
 * Finds the `"tools"` module specifiers in a TypeScript or JavaScript program, so that the
 * sandbox can point them at the per-execution tools module. Runs in the server, where npm
 * packages are available; the sandbox only splices at the returned ranges.
 *
 * @module
 */
import { init, parse } from "es-module-lexer";
import type { SpecifierRange } from "../sandbox/messages.ts";

/** The module name programs import their tools from. */
export const TOOLS_MODULE = "tools";

await init();

/** An import, a dynamic import or a re-export (`export … from`) needs one of these words. */
const MAY_IMPORT = /\b(?:import|export)\b/;

/** What a program imports, as far as the sandbox needs to know. */
export interface ImportScan {
  /** Where `"tools"` is imported. */
  toolsSpecifiers: SpecifierRange[];
  /** The program may import a `node:` module (or a module it names at run time). */
  nodeModules: boolean;
}

/**
 * Returns where `"tools"` is imported, statically or with a literal `import("tools")`, and
 * whether the program may reach a `node:` module. Type-only imports are skipped (the
 * transpiler erases them). Source that the lexer cannot parse gets no ranges: the sandbox then
 * reports the real syntax error.
 *
 * @example
 * ```ts
 * import { scanImports } from "./tools_specifiers.ts";
 * const { toolsSpecifiers, nodeModules } = scanImports(`import { a } from "tools";`);
 * console.assert(toolsSpecifiers.length === 1 && toolsSpecifiers[0]?.quoted === false);
 * console.assert(!nodeModules);
 * ```
 */
export function scanImports(code: string): ImportScan {
  // Without either keyword there is no import to find; the lexer would still copy the whole
  // program into its memory (in Deno, through a slow UTF-16 path: ~25 ms for 1 MiB, on the
  // server's event loop).
  if (!MAY_IMPORT.test(code)) return { toolsSpecifiers: [], nodeModules: false };
  let imports;
  try {
    [imports] = parse(code);
  } catch {
    return { toolsSpecifiers: [], nodeModules: false };
  }
  const toolsSpecifiers: SpecifierRange[] = [];
  let nodeModules = false;
  for (const i of imports) {
    // A dynamic import of a computed name (no specifier) may name anything.
    if (i.type === "dynamic" && (i.specifier === undefined || i.glob)) nodeModules = true;
    else if (typeof i.specifier === "string" && i.specifier.startsWith("node:")) {
      nodeModules = true;
    }
    if (i.specifier !== TOOLS_MODULE) continue;
    if (i.type === "static" && !i.typeOnly) {
      toolsSpecifiers.push({ start: i.start, end: i.end, quoted: false });
    } else if (i.type === "dynamic" && !i.glob) {
      toolsSpecifiers.push({ start: i.start, end: i.end, quoted: true });
    }
  }
  return { toolsSpecifiers, nodeModules };
}
