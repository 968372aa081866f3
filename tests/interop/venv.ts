/**
 * Virtualenvs holding the reference Python client (`pip install progtc==<version>`), created on
 * demand in the repository's `.venv/` (git-ignored), so that the interop tests run on a fresh
 * machine with only Python 3, pip and network access to PyPI.
 *
 * Invariants:
 * - A venv is usable only once its `.progtc-ready` marker exists; the marker is written last,
 *   atomically (rename), after `progtc` was imported from the venv at the expected version.
 * - Creation holds an exclusive lock on `.venv/progtc-<version>.lock` (`flock`, released by the
 *   kernel if the process dies), so concurrent test processes never build the same venv twice
 *   nor use a half-built one. A half-built venv left by a killed process is rebuilt.
 *
 * Run it directly to prepare every venv ahead of the tests (CI does):
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env tests/interop/venv.ts
 * ```
 *
 * @module
 */

/** The reference versions the interop tests run against. */
export const REFERENCE_VERSIONS = ["0.1.17", "0.2.0"] as const;

/** A reference version. */
export type ReferenceVersion = typeof REFERENCE_VERSIONS[number];

const ROOT = new URL("../../", import.meta.url);
const VENV_ROOT = new URL(".venv/", ROOT);
const MARKER = ".progtc-ready";
const MIN_PYTHON = [3, 11]; // progtc 0.2.0 imports enum.StrEnum (3.11+)

const memo = new Map<ReferenceVersion, Promise<string>>();

/**
 * Returns the path of the Python interpreter of the venv for `version`, creating the venv first
 * if needed. The base interpreter is `$PYTHON`, else `python3`. Throws with an explanation when
 * Python 3 is missing, too old, or pip fails.
 *
 * @example
 * ```ts ignore
 * import { ensureVenv } from "./venv.ts";
 * const python = await ensureVenv("0.2.0");
 * ```
 */
export function ensureVenv(version: ReferenceVersion): Promise<string> {
  let promise = memo.get(version);
  if (!promise) {
    promise = prepare(version);
    memo.set(version, promise);
    promise.catch(() => memo.delete(version));
  }
  return promise;
}

/** Where the venv of `version` lives. */
export function venvDir(version: ReferenceVersion): string {
  return new URL(`progtc-${version}`, VENV_ROOT).pathname;
}

async function prepare(version: ReferenceVersion): Promise<string> {
  const dir = venvDir(version);
  const python = `${dir}/bin/python`;
  if (await isReady(dir, python)) return python;
  await Deno.mkdir(VENV_ROOT, { recursive: true });
  using lock = await Deno.open(new URL(`progtc-${version}.lock`, VENV_ROOT), {
    create: true,
    write: true,
  });
  await lock.lock(true);
  try {
    if (await isReady(dir, python)) return python;
    await build(version, dir, python);
    return python;
  } finally {
    await lock.unlock();
  }
}

async function isReady(dir: string, python: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/${MARKER}`);
    await Deno.stat(python); // follows the symlink: fails if the base Python is gone
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function build(version: ReferenceVersion, dir: string, python: string): Promise<void> {
  const base = Deno.env.get("PYTHON") || "python3";
  await checkBasePython(base);
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  console.error(`Creating ${dir} (pip install progtc==${version})`);
  await run(base, ["-m", "venv", dir], "Cannot create the virtualenv");
  await run(python, [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--quiet",
    `progtc==${version}`,
  ], `Cannot install progtc==${version} from PyPI`);
  const installed = await run(python, [
    "-c",
    "import importlib.metadata as m, progtc.client, progtc.types; print(m.version('progtc'))",
  ], `progtc==${version} does not import`);
  if (installed.trim() !== version) {
    throw new Error(`Cannot use ${dir}: it holds progtc ${installed.trim()}, not ${version}`);
  }
  const temporary = `${dir}/${MARKER}.${crypto.randomUUID()}`;
  await Deno.writeTextFile(temporary, `progtc ${version}\n`);
  await Deno.rename(temporary, `${dir}/${MARKER}`);
}

async function checkBasePython(base: string): Promise<void> {
  let version: string;
  try {
    version = await run(
      base,
      ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
      "Python 3 does not run",
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `The interop tests need Python ${MIN_PYTHON.join(".")}+ with pip and venv: ` +
          `${base} was not found on PATH (set PYTHON to use another interpreter)`,
      );
    }
    throw error;
  }
  const [major = 0, minor = 0] = version.trim().split(".").map(Number);
  if (major * 100 + minor < MIN_PYTHON[0]! * 100 + MIN_PYTHON[1]!) {
    throw new Error(
      `The interop tests need Python ${MIN_PYTHON.join(".")}+ ` +
        `(progtc 0.2.0 uses enum.StrEnum): ${base} is ${version.trim()}`,
    );
  }
}

async function run(command: string, args: string[], failure: string): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONDONTWRITEBYTECODE: "1", PIP_NO_INPUT: "1" },
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    const stderr = decoder.decode(output.stderr).trim().split("\n").slice(-20).join("\n");
    throw new Error(
      `${failure}: ${command} ${args.join(" ")} exited with ${output.code}\n${stderr}`,
    );
  }
  return decoder.decode(output.stdout);
}

if (import.meta.main) {
  const started = performance.now();
  const pythons = await Promise.all(REFERENCE_VERSIONS.map(ensureVenv));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  REFERENCE_VERSIONS.forEach((version, i) => console.log(`progtc ${version}: ${pythons[i]}`));
  console.log(`Reference virtualenvs ready in ${seconds} s`);
}
