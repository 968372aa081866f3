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
 * The Python run before the snapshot is taken: `runnerSource` installed as the module
 * `_progtc`, and the modules of `PRELOAD` imported.
 */
export function preludeSource(runnerSource: string): string {
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
