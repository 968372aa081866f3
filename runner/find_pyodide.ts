/**
 * Where the Pyodide npm package is: a directory given, this package's `node_modules`, the
 * working directory's, or (when run from a URL) Deno's npm cache once the package is imported.
 *
 * @module
 */

/**
 * The Pyodide package directory (real path, ending with `/`): `explicit` if given, else the first
 * place it is found; throws where it is not installed.
 */
export async function findPyodide(explicit: string | undefined, denoPath: string): Promise<string> {
  const here = new URL("../node_modules/pyodide/", import.meta.url);
  const candidates = explicit !== undefined
    ? [explicit]
    : [...(here.protocol === "file:" ? [here.pathname] : []), "node_modules/pyodide"];
  for (const candidate of candidates) {
    const dir = await pyodideAt(candidate);
    if (dir) return dir;
  }
  if (explicit === undefined) {
    // Run from a URL (a registry): Pyodide is in Deno's npm cache once something imports it.
    const cached = await pyodideInNpmCache(denoPath);
    if (cached) return cached;
    candidates.push("Deno's npm cache");
  }
  throw new Error(
    `Pyodide is not installed (looked in ${candidates.join(", ")}): run deno install`,
  );
}

async function pyodideAt(candidate: string): Promise<string | undefined> {
  try {
    const dir = await Deno.realPath(candidate);
    await Deno.stat(`${dir}/pyodide.asm.wasm`);
    return `${dir}/`;
  } catch {
    return undefined;
  }
}

async function pyodideInNpmCache(denoPath: string): Promise<string | undefined> {
  try {
    // Importing it makes Deno fetch the package into its cache (its module only defines
    // `loadPyodide`); the version is the one this package's import map names.
    await import("pyodide");
    const resolved = import.meta.resolve("pyodide");
    if (resolved.startsWith("file:")) return await pyodideAt(new URL("./", resolved).pathname);
    const version = resolved.match(/^npm:\/?pyodide@([^/]+)/)?.[1];
    if (!version) return undefined;
    const { stdout } = await new Deno.Command(denoPath, { args: ["info", "--json"] }).output();
    const info = JSON.parse(new TextDecoder().decode(stdout));
    const roots = [info.npmCache, info.denoDir && `${info.denoDir}/npm`].filter(Boolean);
    for (const root of roots) {
      const dir = await pyodideAt(`${root}/registry.npmjs.org/pyodide/${version}`);
      if (dir) return dir;
    }
  } catch {
    // No Deno npm cache to look in.
  }
  return undefined;
}
