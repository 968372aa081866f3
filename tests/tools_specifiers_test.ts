/**
 * `scanImports`: where a program imports `"tools"`, and whether it may reach a `node:` module.
 * A program without the words `import` or `export` is not given to the lexer (which copies
 * the whole program first: ~25 ms for 1 MiB on the server's event loop, BENCHMARKS "Event-loop
 * stalls"); every form of import still is.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { scanImports } from "../runner/tools_specifiers.ts";

const none = { toolsSpecifiers: [], nodeModules: false };

Deno.test("scanImports finds every form of import of tools, and what may reach node: modules", () => {
  const at = (code: string, quoted = false) => {
    const start = code.indexOf("tools");
    return { toolsSpecifiers: [{ start, end: start + 5, quoted }], nodeModules: false };
  };
  for (const code of [`import { a } from "tools";`, `export { a } from "tools";`]) {
    deepStrictEqual(scanImports(code), at(code), code);
  }
  // A literal `import("tools")`: the range is the string literal, quotes included.
  const dynamic = `const { a } = await import("tools");`;
  const start = dynamic.indexOf('"tools"');
  deepStrictEqual(scanImports(dynamic), {
    toolsSpecifiers: [{ start, end: start + 7, quoted: true }],
    nodeModules: false,
  });
  deepStrictEqual(scanImports(`import fs from "node:fs";`), { ...none, nodeModules: true });
  deepStrictEqual(scanImports(`const m = await import(name);`), { ...none, nodeModules: true });
});

Deno.test("scanImports: a program without import or export has none, however large", () => {
  const line = `const important = { exported: "tools", reimport: 1 }; // no imports\n`;
  deepStrictEqual(scanImports(line.repeat(15_000)), none);
  deepStrictEqual(scanImports(`console.log("tools")`), none);
});
