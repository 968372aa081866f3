/**
 * Main module of the throwaway process that builds the Python memory snapshot and writes the
 * cache files: `<base>.snapshot`, `<base>.json` (the module names the sandbox can import),
 * `<base>.index/` (Pyodide's changed glue, `./glue.ts`, and the wasm placeholder) and
 * `<base>.entry.js` (the sandbox's entry module, written last). Pyodide runs in the same kind of
 * worker as in a sandbox, with the same permissions (read the Pyodide files), so the snapshot
 * matches the realm that restores it; only this main realm may write, and only the cache
 * directory.
 *
 * Input on stdin: one JSON {@linkcode BuildInput}. Exits 0 once the files are in place.
 *
 * @module
 */
import {
  createPythonWorker,
  glueURL,
  type PythonSandboxPaths,
  WASM_PLACEHOLDER,
} from "./bootstrap.ts";
import { patchGlue } from "./glue.ts";
import type { PythonWorkerBuild, PythonWorkerSnapshot } from "./worker.ts";

/** What the build needs, from `runner/python.ts`. */
export interface BuildInput extends PythonSandboxPaths {
  /** Python run before the snapshot: freezes the runner (`_progtc`) and the preloads in. */
  prelude: string;
  /** The cache directory (created if missing). */
  cacheDir: string;
  /** Path of the cache files without their extension. */
  base: string;
  /** Source of the sandbox's entry module. */
  entrySource: string;
}

/** Keeps the newest snapshots built from other sources: a previous server may still use one. */
const KEEP_OTHERS = 2;

async function snapshotOf(input: BuildInput): Promise<PythonWorkerSnapshot> {
  const worker = createPythonWorker(input.pyodideDir, input.indexDir);
  const result = Promise.withResolvers<PythonWorkerSnapshot>();
  worker.onmessage = (event: MessageEvent<PythonWorkerSnapshot | { error: string }>) => {
    const data = event.data;
    if ("snapshot" in data) result.resolve(data);
    else result.reject(new Error(data.error));
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    result.reject(new Error(event.message));
  };
  const command: PythonWorkerBuild = {
    type: "build",
    indexURL: input.pyodideDir,
    moduleURL: input.pyodideModule,
    asmURL: glueURL(input),
    prelude: input.prelude,
  };
  worker.postMessage(command);
  try {
    return await result.promise;
  } finally {
    worker.terminate();
  }
}

/** Writes to a temporary name, then renames: readers never see half a file. */
async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temporary, data);
    else await Deno.writeFile(temporary, data);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function removeStale(input: BuildInput): Promise<void> {
  const others: { base: string; mtime: number }[] = [];
  for await (const entry of Deno.readDir(input.cacheDir)) {
    const match = entry.name.match(/^(python-.+)\.snapshot$/);
    const base = match ? `${input.cacheDir}/${match[1]}` : undefined;
    if (base === undefined || base === input.base) continue;
    const { mtime } = await Deno.stat(`${base}.snapshot`);
    others.push({ base, mtime: mtime?.getTime() ?? 0 });
  }
  others.sort((a, b) => b.mtime - a.mtime);
  for (const { base } of others.slice(KEEP_OTHERS)) {
    for (const suffix of [".snapshot", ".json", ".entry.js", ".index"]) {
      await Deno.remove(base + suffix, { recursive: true }).catch(() => {});
    }
  }
}

async function main(): Promise<void> {
  const input: BuildInput = JSON.parse(await new Response(Deno.stdin.readable).text());
  await Deno.mkdir(input.indexDir, { recursive: true });
  // The same bytes whoever writes them: a snapshot and the glue that restores it always match.
  const glue = patchGlue(await Deno.readTextFile(`${input.pyodideDir}pyodide.asm.mjs`));
  await writeAtomically(`${input.indexDir}pyodide.asm.mjs`, glue);
  // Another server may have built it meanwhile.
  if (!await exists(`${input.base}.json`) || !await exists(input.snapshot)) {
    const { snapshot, modules } = await snapshotOf(input);
    await writeAtomically(input.snapshot, snapshot);
    await writeAtomically(`${input.base}.json`, JSON.stringify({ modules }));
    await removeStale(input);
  }
  await writeAtomically(`${input.indexDir}pyodide.asm.wasm`, WASM_PLACEHOLDER);
  await writeAtomically(`${input.base}.entry.js`, input.entrySource);
}

if (import.meta.main) {
  main().then(
    () => Deno.exit(0),
    (error) => {
      console.error(error instanceof Error ? error.stack : String(error));
      Deno.exit(1);
    },
  );
}
