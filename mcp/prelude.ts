/**
 * The prelude that groups a program's flat `tools` module into one namespace per server. The
 * wire protocol is unchanged: the program is given the wire names (`memory.create_entities`, and
 * `memory` itself, so that `import { memory } from "tools"` links), and one line put before its
 * code makes `memory.create_entities` the function of the wire name `memory.create_entities`.
 *
 * - TypeScript: the line has no line break, so line numbers stay true (columns of the first
 *   line move). The namespace is the `memory` export (a function), with the tools as properties.
 * - Python: the line replaces each namespace of the `tools` module by an object whose attributes
 *   are its tools (before the program's own imports run); tracebacks name `<code>` lines one too
 *   far, which {@linkcode fixOutput} puts back.
 *
 * @module
 */
import type { ProgramLanguage } from "./declarations.ts";

/** Namespace → the identifiers of its tools. */
export type NamespaceMap = Record<string, string[]>;

/**
 * The program with the prelude in front.
 *
 * @example
 * ```ts
 * import { withPrelude } from "./prelude.ts";
 * const code = withPrelude("console.log(1);", "typescript", { memory: ["read_graph"] });
 * console.assert(code.endsWith("console.log(1);") && !code.includes("\n"));
 * ```
 */
export function withPrelude(code: string, language: ProgramLanguage, map: NamespaceMap): string {
  const json = JSON.stringify(map);
  if (language === "python") {
    return `import tools as __progtc_tools; __progtc_tools.__dict__.update({__ns: ` +
      `__import__("types").SimpleNamespace(**{__id: getattr(__progtc_tools, __ns + "." + __id) ` +
      `for __id in __ids}) for __ns, __ids in ${json}.items()}); del __progtc_tools\n${code}`;
  }
  return `import * as __progtc_tools from "tools"; { const __t: any = __progtc_tools; ` +
    `for (const [__ns, __ids] of Object.entries(${json})) for (const __id of __ids) ` +
    `Object.defineProperty(__t[__ns], __id, { value: __t[__ns + "." + __id], ` +
    `enumerable: true, configurable: true }); } ${code}`;
}

/** Output of a program that ran with the prelude, as if it had run without. */
export function fixOutput(text: string, language: ProgramLanguage): string {
  if (language !== "python") return text;
  return text.replace(
    /(File "<code>", line )(\d+)/g,
    (_, head: string, line: string) => `${head}${Math.max(1, Number(line) - 1)}`,
  );
}
