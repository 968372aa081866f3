/**
 * Python for the runner: finds the Pyodide package, builds its memory snapshot once, and tells
 * the runner how to start Python sandboxes from it.
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
import { type PythonSandboxPaths, WASM_PLACEHOLDER } from "../sandbox/python/bootstrap.ts";
import type { BuildInput } from "../sandbox/python/build_snapshot.ts";
import { LOCKED_RUN_FLAGS, sandboxEnv } from "./host_command.ts";
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

const SOURCES = [
  "runner.py",
  "worker.ts",
  "pyodide_load.ts",
  "bootstrap.ts",
  "build_snapshot.ts",
];

/**
 * Modules imported before the snapshot is taken, so programs do not pay for their import.
 * The runner seeds `random` again in every sandbox.
 */
const PRELOAD = [
  "asyncio",
  "base64",
  "bisect",
  "collections",
  "copy",
  "csv",
  "dataclasses",
  "datetime",
  "decimal",
  "enum",
  "fractions",
  "functools",
  "hashlib",
  "heapq",
  "itertools",
  "json",
  "math",
  "operator",
  "pprint",
  "random",
  "re",
  "statistics",
  "string",
  "textwrap",
  "time",
  "typing",
  "urllib.parse",
  "uuid",
];

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
  const runnerSource = await Deno.readTextFile(new URL("runner.py", sandboxDir));
  const prelude = preludeSource(runnerSource);
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
      await build(
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

async function isCached(base: string, entrySource: string): Promise<boolean> {
  try {
    JSON.parse(await Deno.readTextFile(`${base}.json`));
    await Deno.stat(`${base}.snapshot`);
    if (await Deno.readTextFile(`${base}.index/pyodide.asm.wasm`) !== WASM_PLACEHOLDER) {
      return false;
    }
    return await Deno.readTextFile(`${base}.entry.js`) === entrySource;
  } catch {
    return false;
  }
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

function preludeSource(runnerSource: string): string {
  return [
    "def _progtc_install():",
    "    import sys, types",
    "    module = types.ModuleType('_progtc')",
    `    source = ${JSON.stringify(runnerSource)}`,
    "    exec(compile(source, '<progtc>', 'exec', dont_inherit=True), module.__dict__)",
    "    sys.modules['_progtc'] = module",
    `    for name in ${JSON.stringify(PRELOAD)}:`,
    "        __import__(name)",
    "_progtc_install()",
    "del _progtc_install",
    "",
  ].join("\n");
}

async function sourceHash(sandboxDir: URL, parts: string[]): Promise<string> {
  for (const name of SOURCES) parts.push(await Deno.readTextFile(new URL(name, sandboxDir)));
  const bytes = new TextEncoder().encode(parts.join("\0"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function findPyodide(explicit: string | undefined, denoPath: string): Promise<string> {
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

function defaultCacheDir(): string {
  return cacheDir();
}

/**
 * Runs `build_snapshot.ts` in a throwaway process. It may read the Pyodide files and write
 * the cache directory: the server itself needs no write permission.
 */
async function build(
  denoPath: string,
  sandboxDir: URL,
  input: BuildInput,
  options: PreparePythonOptions,
): Promise<void> {
  const child = new Deno.Command(denoPath, {
    args: [
      ...LOCKED_RUN_FLAGS,
      "--no-npm",
      "--unstable-worker-options",
      `--allow-read=${input.pyodideDir},${input.cacheDir}`,
      `--allow-write=${input.cacheDir}`,
      new URL("build_snapshot.ts", sandboxDir).pathname,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    clearEnv: true,
    env: sandboxEnv(),
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.buildTimeoutMs ?? 120_000);
  try {
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode(JSON.stringify(input)));
    await stdin.close();
    const { code, stderr } = await child.output();
    if (code !== 0) {
      const why = new TextDecoder().decode(stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(`Python snapshot build failed (exit code ${code}): ${why}`);
    }
  } finally {
    clearTimeout(timer);
  }
}
