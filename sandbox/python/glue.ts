/**
 * Pyodide's JavaScript glue (`pyodide.asm.mjs`, made by Emscripten), changed where it does work
 * on every start that a sandbox never uses. The snapshot build writes the changed glue beside
 * the wasm placeholder (`<base>.index/`), and both the build and every worker load that copy:
 * the function table a snapshot's pointers index is laid out by the glue that made it, so the
 * two must be the same glue.
 *
 * What changes, and why it is safe here:
 * - **The main module's exports are not all put in the dynamic-linking table.** Emscripten
 *   gives every exported function (7,415 in Pyodide 314.0.7) a table slot and every export a
 *   `WebAssembly.Global` as it starts, for shared libraries that may import them later (~40 ms
 *   of CPU per worker in a profile, and the garbage of it). A sandbox loads no shared library
 *   (its lock file lists no packages). Only the entries the main module imports itself are
 *   filled, as before (its 280 are JavaScript functions, none of its own exports); a library
 *   that were loaded would still get the main module's symbols when its imports are resolved.
 * - **A JavaScript function's wasm wrapper is compiled once per signature.** Emscripten
 *   compiles a tiny module for each of those 280 functions; they have 52 signatures.
 *
 * Each change is made where its exact text is found once, else the build fails and names it:
 * another Pyodide's glue is never half changed.
 *
 * Runs in the snapshot build's main realm (`./build_snapshot.ts`). Imports nothing.
 *
 * @module
 */

/** One replacement: the text it must find exactly once, and what it becomes. */
interface Change {
  why: string;
  find: string;
  replace: string;
}

const CHANGES: readonly Change[] = [
  {
    why: "the main module's exports in the dynamic-linking table",
    find: "updateGOT(origExports);LDSO.init()",
    replace: "updateGOT(Object.fromEntries(Object.keys(GOT).filter((name)=>name in origExports)" +
      ".map((name)=>[name,origExports[name]])));LDSO.init()",
  },
  {
    why: "a wrapper module for each JavaScript function",
    find: "var module=new WebAssembly.Module(bytes);var instance=new WebAssembly.Instance(module,",
    // Kept on the function that makes them: one per signature.
    replace:
      "var module=(convertJsFunctionToWasm.modules??={})[sig]??=new WebAssembly.Module(bytes);" +
      "var instance=new WebAssembly.Instance(module,",
  },
];

/**
 * The glue with the changes above.
 *
 * @example
 * ```ts
 * import { patchGlue } from "./glue.ts";
 * try {
 *   patchGlue("not Pyodide's glue");
 * } catch (error) {
 *   console.assert(String(error).includes("dynamic-linking table"));
 * }
 * ```
 */
export function patchGlue(source: string): string {
  let patched = source;
  for (const { why, find, replace } of CHANGES) {
    const count = patched.split(find).length - 1;
    if (count !== 1) {
      throw new Error(
        `Pyodide's glue cannot be changed (${why}): its text is found ${count} times, not once`,
      );
    }
    patched = patched.replace(find, () => replace);
  }
  return patched;
}
