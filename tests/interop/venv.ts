/**
 * Virtualenvs holding the reference Python client (`pip install progtc==<version>`), created on
 * demand in the repository's `.venv/` (git-ignored), so that the interop tests run on a fresh
 * machine with only Python 3, pip and network access to PyPI. The reference's own test suites
 * (`tests/reference/setup.ts`) build their venvs with the same helper ({@linkcode ensurePythonEnv}).
 *
 * Invariants:
 * - A venv is usable only once its `.progtc-ready` marker exists and holds the expected text
 *   (the requirements it was built for); the marker is written last, atomically (rename), after
 *   the venv's check (e.g. `progtc` imported at the expected version) passed.
 * - Creation holds an exclusive lock on `.venv/<name>.lock` (`flock`, released by the kernel if
 *   the process dies), so concurrent test processes never build the same venv twice nor use a
 *   half-built one. A half-built venv left by a killed process is rebuilt.
 *
 * Run it directly to prepare every venv (and the reference's test sources) ahead of the tests
 * (CI does):
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

/**
 * A virtualenv to create in `.venv/`: what pip installs into it and how to check the result.
 * The marker file holds `marker`, so a venv built for other requirements is rebuilt.
 */
export interface VenvSpec {
  /** The venv's directory name inside `.venv/`. */
  name: string;
  /** The arguments of `pip install` (requirement specifiers). */
  requirements: string[];
  /** Python source run in the venv once installed; must print `expect` (then a newline). */
  check: string;
  /** What `check` prints. */
  expect: string;
  /** The marker's content: it changes whenever the venv must be rebuilt. */
  marker: string;
}

/**
 * Why the tests that run a Python interpreter of this machine (the reference client, the
 * reference's suites, pydantic-ai, stub parsing) cannot run here: no `$PYTHON`/`python3`, one
 * older than 3.11, or one without `venv` and `ensurepip`; `undefined` when they can. (Python
 * programs in sandboxes run on Pyodide and need none of this.)
 */
export const NO_PYTHON: string | undefined = pythonProblem();

/** The options of a test that needs this machine's Python: ignored where there is none. */
export const needsPython: { ignore: boolean } = { ignore: NO_PYTHON !== undefined };

function pythonProblem(): string | undefined {
  const python = Deno.env.get("PYTHON") ?? "python3";
  let output: Deno.CommandOutput;
  try {
    output = new Deno.Command(python, {
      args: ["-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
  } catch {
    return `no ${python} on this machine`;
  }
  if (!output.success) return `${python} has no venv and ensurepip modules`;
  const [major = 0, minor = 0] = new TextDecoder().decode(output.stdout).trim().split(".")
    .map(Number);
  if (major < MIN_PYTHON[0]! || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1]!)) {
    return `${python} is ${major}.${minor}, older than ${MIN_PYTHON.join(".")}`;
  }
  return undefined;
}

const memo = new Map<string, Promise<string>>();

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
  return ensurePythonEnv({
    name: `progtc-${version}`,
    requirements: [`progtc==${version}`],
    check:
      "import importlib.metadata as m, progtc.client, progtc.types; print(m.version('progtc'))",
    expect: version,
    marker: `progtc ${version}\n`,
  });
}

/** The pydantic-ai version examples/pydantic_ai_agent.py is tested with. */
export const PYDANTIC_AI_VERSION = "2.68.0";

/** The venv of examples/pydantic_ai_agent.py: the reference client and pydantic-ai. */
export function ensurePydanticAiVenv(): Promise<string> {
  return ensurePythonEnv({
    name: `pydantic-ai-${PYDANTIC_AI_VERSION}`,
    requirements: ["progtc==0.2.0", `pydantic-ai-slim==${PYDANTIC_AI_VERSION}`],
    check:
      "import importlib.metadata as m, pydantic_ai, progtc; print(m.version('pydantic-ai-slim'))",
    expect: PYDANTIC_AI_VERSION,
    marker: `progtc 0.2.0, pydantic-ai-slim ${PYDANTIC_AI_VERSION}\n`,
  });
}

/** The Python MCP SDK and FastMCP versions the `progtc mcp` tests use. */
export const PYTHON_MCP_VERSION = "2.3.0";
export const FASTMCP_VERSION = "4.2.3";

/**
 * The venv of the `progtc mcp` tests: the Python `mcp` SDK's client (tests/mcp_python_test.ts),
 * and FastMCP with the reference client for the sandbox provider (examples/fastmcp_progtc.py).
 */
export function ensureMcpVenv(): Promise<string> {
  return ensurePythonEnv({
    name: `mcp-${PYTHON_MCP_VERSION}-fastmcp-${FASTMCP_VERSION}`,
    requirements: ["progtc==0.2.0", `mcp==${PYTHON_MCP_VERSION}`, `fastmcp==${FASTMCP_VERSION}`],
    check: "import importlib.metadata as m, mcp, fastmcp, progtc; " +
      "print(m.version('mcp'), m.version('fastmcp'))",
    expect: `${PYTHON_MCP_VERSION} ${FASTMCP_VERSION}`,
    marker: `progtc 0.2.0, mcp ${PYTHON_MCP_VERSION}, fastmcp ${FASTMCP_VERSION}\n`,
  });
}

/**
 * Returns the path of the Python interpreter of the venv `spec` describes, creating it first if
 * needed (see the module's invariants).
 */
export function ensurePythonEnv(spec: VenvSpec): Promise<string> {
  let promise = memo.get(spec.name);
  if (!promise) {
    promise = prepare(spec);
    memo.set(spec.name, promise);
    promise.catch(() => memo.delete(spec.name));
  }
  return promise;
}

/** Where the venv of `version` lives. */
export function venvDir(version: ReferenceVersion): string {
  return venvPath(`progtc-${version}`);
}

/** Where the venv named `name` lives. */
export function venvPath(name: string): string {
  return new URL(name, VENV_ROOT).pathname;
}

async function prepare(spec: VenvSpec): Promise<string> {
  const dir = venvPath(spec.name);
  const python = `${dir}/bin/python`;
  if (await isReady(dir, python, spec.marker)) return python;
  await Deno.mkdir(VENV_ROOT, { recursive: true });
  using lock = await Deno.open(new URL(`${spec.name}.lock`, VENV_ROOT), {
    create: true,
    write: true,
  });
  await lock.lock(true);
  try {
    if (await isReady(dir, python, spec.marker)) return python;
    await build(spec, dir, python);
    return python;
  } finally {
    await lock.unlock();
  }
}

async function isReady(dir: string, python: string, marker: string): Promise<boolean> {
  try {
    if ((await Deno.readTextFile(`${dir}/${MARKER}`)) !== marker) return false;
    await Deno.stat(python); // follows the symlink: fails if the base Python is gone
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function build(spec: VenvSpec, dir: string, python: string): Promise<void> {
  const base = Deno.env.get("PYTHON") || "python3";
  await checkBasePython(base);
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const requirements = spec.requirements.join(" ");
  console.error(`Creating ${dir} (pip install ${requirements})`);
  await run(base, ["-m", "venv", dir], "Cannot create the virtualenv");
  await run(python, [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--quiet",
    ...spec.requirements,
  ], `Cannot install ${requirements} from PyPI`);
  const installed = await run(python, ["-c", spec.check], `${requirements} does not import`);
  if (installed.trim() !== spec.expect) {
    throw new Error(`Cannot use ${dir}: it holds ${installed.trim()}, not ${spec.expect}`);
  }
  const temporary = `${dir}/${MARKER}.${crypto.randomUUID()}`;
  await Deno.writeTextFile(temporary, spec.marker);
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

/**
 * Runs `command` with `args` (no input, Python's and pip's prompts off) and returns its stdout;
 * throws with `failure` and the end of its stderr when it fails.
 */
export async function run(command: string, args: string[], failure: string): Promise<string> {
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

async function main(): Promise<void> {
  const started = performance.now();
  // The reference's own test suites (tests/reference/) need their sources and a venv each.
  const { ensureReferenceSuite } = await import("../reference/setup.ts");
  const [pythons, suites, pydanticAi, mcp] = await Promise.all([
    Promise.all(REFERENCE_VERSIONS.map(ensureVenv)),
    Promise.all(REFERENCE_VERSIONS.map(ensureReferenceSuite)),
    ensurePydanticAiVenv(),
    ensureMcpVenv(),
  ]);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  REFERENCE_VERSIONS.forEach((version, i) => {
    console.log(`progtc ${version}: ${pythons[i]}`);
    console.log(`progtc ${version} test suite: ${suites[i]!.tests} (${suites[i]!.python})`);
  });
  console.log(`pydantic-ai ${PYDANTIC_AI_VERSION}: ${pydanticAi}`);
  console.log(`mcp ${PYTHON_MCP_VERSION}, fastmcp ${FASTMCP_VERSION}: ${mcp}`);
  console.log(`Reference virtualenvs ready in ${seconds} s`);
}

// Not a top-level await: setup.ts imports this module, which must have finished evaluating.
if (import.meta.main) {
  main().catch((error) => {
    console.error(error);
    Deno.exit(1);
  });
}
