/**
 * Python's memory snapshot: the key of its cache (the Pyodide and Deno versions, a hash of the
 * sources that shape it), the prelude it is taken after (the runner and the modules preloaded),
 * whether it is cached, and its build in a throwaway process.
 *
 * @module
 */
import { WASM_PLACEHOLDER } from "../sandbox/python/bootstrap.ts";
import type { BuildInput } from "../sandbox/python/build_snapshot.ts";
import { LOCKED_RUN_FLAGS, sandboxEnv } from "./host_command.ts";
import type { PreparePythonOptions } from "./python.ts";

/**
 * The runner's modules (`sandbox/python/`), in the order they are installed: each imports
 * those before it, and `_progtc` takes them all out of `sys.modules` when it is attached.
 */
export const RUNNER_MODULES: readonly [name: string, file: string][] = [
  ["_progtc_calls", "runner_calls.py"],
  ["_progtc_program", "runner_program.py"],
  ["_progtc", "runner.py"],
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

/** Whether the snapshot at `base` and its files are complete, and its entry is `entrySource`. */
export async function isCached(base: string, entrySource: string): Promise<boolean> {
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
 * The Python run before the snapshot is taken: each of `modules` (name, source: the runner's
 * parts, each importing those before it) installed as a module, its code named "<progtc>" (the
 * runner's frames, never shown), and the modules of `PRELOAD` imported.
 */
export function preludeSource(modules: [name: string, source: string][]): string {
  return [
    "def _progtc_install(name, source):",
    "    import sys, types",
    "    module = types.ModuleType(name)",
    "    exec(compile(source, '<progtc>', 'exec', dont_inherit=True), module.__dict__)",
    "    sys.modules[name] = module",
    ...modules.map(([name, source]) =>
      `_progtc_install(${JSON.stringify(name)}, ${JSON.stringify(source)})`
    ),
    "del _progtc_install",
    `for _progtc_name in ${JSON.stringify(PRELOAD)}:`,
    "    __import__(_progtc_name)",
    "del _progtc_name",
    "",
  ].join("\n");
}

/**
 * A hash of `parts` and of every file of `sandboxDir` (`sandbox/python/`: what the snapshot is
 * built, written and restored with, the glue's changes included), by name and contents, for
 * the cache files' name.
 */
export async function sourceHash(sandboxDir: URL, parts: string[]): Promise<string> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(sandboxDir)) if (entry.isFile) names.push(entry.name);
  for (const name of names.sort()) {
    parts.push(name, await Deno.readTextFile(new URL(name, sandboxDir)));
  }
  const bytes = new TextEncoder().encode(parts.join("\0"));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Runs `build_snapshot.ts` in a throwaway process. It may read the Pyodide files and write
 * the cache directory: the server itself needs no write permission.
 */
export async function buildSnapshot(
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
