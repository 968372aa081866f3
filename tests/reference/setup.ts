/**
 * The reference package's own test suites, ready to run against our server: for each reference
 * version, its source distribution (which ships `tests/`) unpacked in
 * `.cache/reference/progtc-<version>/` (git-ignored), and a venv `.venv/progtc-<version>-suite`
 * with what the suite imports (`progtc[server]` at that version, pytest, pytest-asyncio), pinned
 * to the versions of the sdist's own `uv.lock`.
 *
 * Invariants:
 * - The sdist is `pip download`ed from PyPI and must have the SHA-256 recorded here, so the test
 *   files we run are byte for byte the reference's.
 * - The unpacked sdist is usable only once its `.progtc-sdist-ready` marker (holding that
 *   SHA-256) exists; it is written last. Unpacking happens in a temporary directory renamed into
 *   place, under an exclusive `flock` on `.cache/reference/progtc-<version>.lock`, so concurrent
 *   processes never unpack twice nor read a half-unpacked tree.
 * - The venv follows `tests/interop/venv.ts`'s invariants (marker, lock, rebuilt when its
 *   requirements change).
 *
 * `tests/interop/venv.ts`, run directly (CI's set-up phase), prepares these too. Alone:
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env tests/reference/setup.ts
 * ```
 *
 * @module
 */
import {
  ensurePythonEnv,
  REFERENCE_VERSIONS,
  type ReferenceVersion,
  run,
} from "../interop/venv.ts";

/** What one reference version's suite needs. */
interface SuitePins {
  /** SHA-256 of `progtc-<version>.tar.gz` on PyPI. */
  sdistSha256: string;
  /** Versions from the sdist's `uv.lock` (its dev dependency group and `progtc[server]`). */
  packages: Record<string, string>;
}

const PINS: Record<ReferenceVersion, SuitePins> = {
  "0.1.17": {
    sdistSha256: "0837cd8c4af9f0e35e46d4bf911285ec8f3097afd0b162cc31ada769fc7cb7ad",
    packages: {
      "pytest": "9.0.1",
      "pytest-asyncio": "1.3.0",
      "pydantic": "2.12.5",
      "httpx": "0.28.1",
      "httpx-sse": "0.4.3",
      "fastapi": "0.123.10",
      "starlette": "0.50.0",
      "uvicorn": "0.38.0",
    },
  },
  "0.2.0": {
    sdistSha256: "d2c47972b8c7c3ca9c3f33720c6e1e462ee892f125fe6edd044a49647005a1de",
    packages: {
      "pytest": "9.1.1",
      "pytest-asyncio": "1.4.0",
      "pydantic": "2.13.5",
      "httpx": "0.28.1",
      "httpx-sse": "0.4.3",
      "fastapi": "0.141.1",
      "starlette": "1.7.0",
      "uvicorn": "0.53.0",
    },
  },
};

const ROOT = new URL("../../", import.meta.url);
const CACHE = new URL(".cache/reference/", ROOT);
const SDIST_MARKER = ".progtc-sdist-ready";

/** A reference test suite ready to run. */
export interface ReferenceSuite {
  version: ReferenceVersion;
  /** The venv's Python, with pytest and `progtc[server]==version`. */
  python: string;
  /** The unpacked sdist (`pyproject.toml`, `src/`, `tests/`, …). */
  root: string;
  /** Its `tests/` directory, unchanged. */
  tests: string;
}

const memo = new Map<ReferenceVersion, Promise<ReferenceSuite>>();

/**
 * Returns the suite of `version`, downloading the sdist and building the venv first if needed.
 *
 * @example
 * ```ts ignore
 * import { ensureReferenceSuite } from "./setup.ts";
 * const { python, tests } = await ensureReferenceSuite("0.2.0");
 * ```
 */
export function ensureReferenceSuite(version: ReferenceVersion): Promise<ReferenceSuite> {
  let promise = memo.get(version);
  if (!promise) {
    promise = prepare(version);
    memo.set(version, promise);
    promise.catch(() => memo.delete(version));
  }
  return promise;
}

async function prepare(version: ReferenceVersion): Promise<ReferenceSuite> {
  const python = await ensureSuiteVenv(version);
  const root = await ensureSdist(version, python);
  return { version, python, root, tests: `${root}/tests` };
}

function ensureSuiteVenv(version: ReferenceVersion): Promise<string> {
  const pins = PINS[version];
  const requirements = [
    `progtc[server]==${version}`,
    ...Object.entries(pins.packages).map(([name, pinned]) => `${name}==${pinned}`),
  ];
  return ensurePythonEnv({
    name: `progtc-${version}-suite`,
    requirements,
    check: "import importlib.metadata as m, progtc.client, progtc.types, progtc.server.api, " +
      "pytest, pytest_asyncio, httpx, httpx_sse; print(m.version('progtc'))",
    expect: version,
    marker: `${requirements.join("\n")}\n`,
  });
}

/** Where the sdist of `version` is unpacked. */
export function sdistDir(version: ReferenceVersion): string {
  return new URL(`progtc-${version}`, CACHE).pathname;
}

async function ensureSdist(version: ReferenceVersion, python: string): Promise<string> {
  const dir = sdistDir(version);
  const sha256 = PINS[version].sdistSha256;
  if (await sdistReady(dir, sha256)) return dir;
  await Deno.mkdir(CACHE, { recursive: true });
  using lock = await Deno.open(new URL(`progtc-${version}.lock`, CACHE), {
    create: true,
    write: true,
  });
  await lock.lock(true);
  try {
    if (await sdistReady(dir, sha256)) return dir;
    const work = new URL(`.download-${version}-${crypto.randomUUID()}/`, CACHE).pathname;
    await Deno.mkdir(work, { recursive: true });
    try {
      console.error(`Downloading the sdist of progtc==${version} into ${dir}`);
      await run(python, [
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--dest",
        work,
        `progtc==${version}`,
      ], `Cannot download the sdist of progtc==${version} from PyPI`);
      const archive = `${work}progtc-${version}.tar.gz`;
      const actual = encodeHex(
        await crypto.subtle.digest("SHA-256", await Deno.readFile(archive)),
      );
      if (actual !== sha256) {
        throw new Error(`${archive} has SHA-256 ${actual}, expected ${sha256}`);
      }
      await run(python, [
        "-c",
        UNPACK,
        archive,
        `${work}unpacked`,
      ], `Cannot unpack ${archive}`);
      await Deno.remove(dir, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      await Deno.rename(`${work}unpacked/progtc-${version}`, dir);
      await Deno.stat(`${dir}/tests/conftest.py`);
      const temporary = `${dir}/${SDIST_MARKER}.${crypto.randomUUID()}`;
      await Deno.writeTextFile(temporary, `${sha256}\n`);
      await Deno.rename(temporary, `${dir}/${SDIST_MARKER}`);
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
    return dir;
  } finally {
    await lock.unlock();
  }
}

/**
 * Unpacks an archive with tarfile's `data` filter; on a Python without it (before 3.11.4 and
 * 3.12, e.g. Debian 12's 3.11.2) with the same refusals made by hand: only regular files and
 * directories, under the destination.
 */
const UNPACK = `import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    if hasattr(tarfile, "data_filter"):
        t.extractall(sys.argv[2], filter="data")
    else:
        for m in t.getmembers():
            if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in m.name.split("/"):
                sys.exit(f"refusing to unpack {m.name!r}")
        t.extractall(sys.argv[2])`;

function encodeHex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sdistReady(dir: string, sha256: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`${dir}/${SDIST_MARKER}`)) === `${sha256}\n`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

if (import.meta.main) {
  const suites = await Promise.all(REFERENCE_VERSIONS.map(ensureReferenceSuite));
  for (const suite of suites) {
    console.log(`progtc ${suite.version}: ${suite.tests} (${suite.python})`);
  }
}
