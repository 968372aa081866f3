/**
 * Python for the runner: finds the Pyodide package, builds its memory snapshot once, and tells
 * the runner how to start Python sandboxes from it.
 * Where Pyodide is found is `find_pyodide.ts`; the snapshot's cache key, prelude and build are
 * `python_snapshot.ts`.
 *
 * Invariants:
 * - The snapshot is built in a throwaway `deno run` process, never in the server's process:
 *   its worker has the sandbox's own permissions (read the Pyodide files, nothing else), its
 *   main realm may also write the cache directory (the server needs no write permission).
 * - It is cached on disk under a name keyed by the Pyodide version, the Deno version and a
 *   hash of every source file that shapes it (`sandbox/python/*`): any change to those
 *   builds a new one. Files are written to a temporary name and renamed, so concurrent servers
 *   never see half a snapshot. A build removes older snapshots but the two newest others.
 * - A sandbox may read the Pyodide directory and its snapshot file; the worker that runs the
 *   user's code may read the Pyodide directory only and gets the snapshot bytes by transfer.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { PythonSandboxPaths } from "../sandbox/python/bootstrap.ts";
import { findPyodide } from "./find_pyodide.ts";
import {
  buildSnapshot,
  isCached,
  preludeSource,
  RUNNER_MODULES,
  sourceHash,
} from "./python_snapshot.ts";
import { cacheDir, sandboxRoot } from "./sandbox_files.ts";

/** Options of {@linkcode preparePython}. */
export interface PreparePythonOptions {
  /**
   * The Deno binary that builds the snapshot.
   * @default {Deno.execPath()}
   */
  denoPath?: string;
  /**
   * The Pyodide npm package directory.
   * @default {"node_modules/pyodide" of this project}
   */
  pyodideDir?: string;
  /**
   * Where the snapshot and the sandbox entry module are cached.
   * @default {".cache/progtc" of this project}
   */
  cacheDir?: string;
  /**
   * How long the snapshot build may take, in ms.
   * @default {120000}
   */
  buildTimeoutMs?: number;
  /** Reports the progress of a snapshot build: when it starts, every few seconds, its end. */
  onProgress?: (message: string) => void;
}

/** How to start Python sandboxes. */
export interface PythonEntry {
  /** `deno run` flags of a Python sandbox. */
  flags: string[];
  /** The sandbox's entry module. */
  module: string;
  /** The memory snapshot file. */
  snapshot: string;
  /** The Pyodide package directory (real path, ending with `/`). */
  pyodideDir: string;
  /** Top-level module names the sandbox's Python can import: client modules must not use them. */
  importable: ReadonlySet<string>;
  /** Milliseconds spent building the snapshot, or 0 when it came from the cache. */
  buildMs: number;
}

const prepared = new Map<string, Promise<PythonEntry>>();

/**
 * Makes Python sandboxes available: loads the cached snapshot, or builds it (4–10 s, once).
 * Concurrent calls with the same options share one preparation.
 *
 * @example
 * ```ts ignore
 * import { preparePython } from "./python.ts";
 * const entry = await preparePython();
 * console.log(entry.flags, entry.module);
 * ```
 */
export function preparePython(options: PreparePythonOptions = {}): Promise<PythonEntry> {
  const key = JSON.stringify([options.denoPath, options.pyodideDir, options.cacheDir]);
  let entry = prepared.get(key);
  if (!entry) {
    entry = prepare(options);
    prepared.set(key, entry);
    entry.catch(() => prepared.delete(key));
  }
  return entry;
}

async function prepare(options: PreparePythonOptions): Promise<PythonEntry> {
  const denoPath = options.denoPath ?? Deno.execPath();
  const sandboxDir = new URL("python/", await sandboxRoot());
  const pyodideDir = await findPyodide(options.pyodideDir, denoPath);
  const version = JSON.parse(await Deno.readTextFile(`${pyodideDir}package.json`)).version;
  const prelude = preludeSource(
    await Promise.all(
      RUNNER_MODULES.map(async ([name, file]): Promise<[string, string]> => [
        name,
        await Deno.readTextFile(new URL(file, sandboxDir)),
      ]),
    ),
  );
  const hash = await sourceHash(sandboxDir, [version, Deno.version.deno, prelude]);
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const base = `${cacheDir}/python-${version}-${hash}`;
  const paths: PythonSandboxPaths = {
    pyodideDir,
    pyodideModule: pathToFileURL(`${pyodideDir}pyodide.mjs`).href,
    snapshot: `${base}.snapshot`,
    indexDir: `${base}.index/`,
  };
  for (const path of [pyodideDir, cacheDir]) {
    if (path.includes(",")) throw new TypeError(`Path not usable in --allow-read: ${path}`);
  }
  const entry = `${base}.entry.js`;
  const entrySource = `import { startPythonSandbox } from ${
    JSON.stringify(new URL("bootstrap.ts", sandboxDir).href)
  };\nawait startPythonSandbox(${JSON.stringify(paths)});\n`;

  let buildMs = 0;
  if (!await isCached(base, entrySource)) {
    const started = performance.now();
    const report = options.onProgress ?? (() => {});
    report(`Python: building the memory snapshot (once per Pyodide and Deno version, 4–10 s)`);
    const ticker = setInterval(
      () =>
        report(
          `Python: still building the snapshot (${
            ((performance.now() - started) / 1000).toFixed(0)
          } s)`,
        ),
      3000,
    );
    try {
      await buildSnapshot(
        denoPath,
        sandboxDir,
        { ...paths, prelude, cacheDir, base, entrySource },
        options,
      );
    } finally {
      clearInterval(ticker);
    }
    buildMs = performance.now() - started;
  }
  const { modules } = JSON.parse(await Deno.readTextFile(`${base}.json`));
  return {
    flags: [
      "--no-npm",
      "--unstable-worker-options",
      `--allow-read=${pyodideDir},${paths.snapshot},${paths.indexDir}`,
    ],
    module: entry,
    snapshot: paths.snapshot,
    pyodideDir,
    importable: new Set(modules),
    buildMs,
  };
}

/**
 * Why client `modules` cannot be used, or `undefined` when they can: no name may shadow a
 * module the sandbox can import. (Whether names are identifiers, and not `tools`, the request
 * schema checks.)
 *
 * @example
 * ```ts
 * import { pythonModulesProblem } from "./python.ts";
 * const importable = new Set(["json"]);
 * console.assert(pythonModulesProblem({ helpers: "" }, importable) === undefined);
 * console.assert(pythonModulesProblem({ json: "" }, importable) !== undefined);
 * ```
 */
export function pythonModulesProblem(
  modules: Record<string, string>,
  importable: ReadonlySet<string>,
): string | undefined {
  const shadowing = Object.keys(modules).filter((name) => importable.has(name));
  return shadowing.length > 0
    ? `Client module names conflict with modules the sandbox can import: ${shadowing.join(", ")}`
    : undefined;
}

function defaultCacheDir(): string {
  return cacheDir();
}
