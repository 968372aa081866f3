/**
 * The runner: pools of locked sandboxes per language, and the `run` message for a program.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { SandboxPool } from "./pool.ts";
import { preparePython, type PythonEntry, pythonModulesProblem } from "./python.ts";
import { Sandbox, type SandboxSpawnOptions } from "./sandbox.ts";
import type { RunMessage, SandboxKind } from "./sandbox_protocol.ts";
import { findToolsSpecifiers } from "./tools_specifiers.ts";

/** Options of {@linkcode Runner}. */
export interface RunnerOptions {
  /**
   * Warm TypeScript/JavaScript sandboxes kept ready.
   * @default {2}
   */
  poolSize?: number;
  /**
   * Warm Python sandboxes kept ready.
   * @default {1}
   */
  pythonPoolSize?: number;
  /**
   * V8 heap cap per sandbox, in MiB.
   * @default {256}
   */
  heapMb?: number;
  /**
   * Data rlimit per sandbox (heap, ArrayBuffers, wasm), in MiB. A Deno sandbox reserves about
   * 1.1 GiB of address space before it runs anything, so values below ~1200 do not start.
   * @default {1536}
   */
  dataMb?: number;
  /**
   * Data rlimit per Python sandbox, in MiB. Pyodide takes about 100 MiB on top of Deno's
   * reservation before the program runs; the program's own memory (the wasm heap) comes out
   * of the rest.
   * @default {2048}
   */
  pythonDataMb?: number;
  /**
   * Where the Python memory snapshot is cached.
   * @default {".cache/progtc" of this project}
   */
  pythonCacheDir?: string;
  /**
   * The Deno binary sandboxes run on.
   * @default {Deno.execPath()}
   */
  denoPath?: string;
  /**
   * `prlimit` binary, or `null` to run sandboxes without a data rlimit.
   * @default {"/usr/bin/prlimit" when it exists}
   */
  prlimitPath?: string | null;
  /**
   * Longest protocol line accepted from a sandbox, in characters.
   * @default {16 MiB}
   */
  maxLineLength?: number;
  /**
   * How long a sandbox may take to become ready, in ms.
   * @default {20000}
   */
  readyTimeoutMs?: number;
  /** Reports a failed background spawn. */
  onSpawnError?: (error: unknown) => void;
}

/** Limits the sandbox applies to one program. */
export interface ProgramLimits {
  maxOutputBytes: number;
  maxToolArgsBytes: number;
}

const DENO_ENTRY = {
  flags: ["--no-npm", "--unstable-worker-options"],
  module: new URL("./deno_sandbox/bootstrap.ts", import.meta.url).pathname,
};

/** Which sandbox runs a language. */
export function sandboxKind(language: Language): SandboxKind {
  return language === "python" ? "python" : "deno";
}

/** Pools of locked sandboxes, per language. */
export class Runner {
  #pools = new Map<SandboxKind, SandboxPool>();
  #python: () => Promise<PythonEntry>;
  /** Whether sandboxes run under an RLIMIT_DATA cap (`prlimit` was found). */
  readonly dataLimited: boolean;

  private constructor(
    pools: Map<SandboxKind, SandboxPool>,
    python: () => Promise<PythonEntry>,
    dataLimited: boolean,
  ) {
    this.#pools = pools;
    this.#python = python;
    this.dataLimited = dataLimited;
  }

  /** Creates the pools and starts filling them off the caller's path. */
  static async create(options: RunnerOptions = {}): Promise<Runner> {
    const prlimitPath = options.prlimitPath !== undefined
      ? options.prlimitPath
      : await findPrlimit();
    const spawnOptions: SandboxSpawnOptions = {
      kind: "deno",
      denoPath: options.denoPath ?? Deno.execPath(),
      prlimitPath,
      heapMb: options.heapMb ?? 256,
      dataMb: options.dataMb ?? 1536,
      maxLineLength: options.maxLineLength ?? 16 * 1024 * 1024,
      readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
      entry: DENO_ENTRY,
    };
    const pools = new Map<SandboxKind, SandboxPool>();
    pools.set(
      "deno",
      new SandboxPool({
        size: options.poolSize ?? 2,
        spawn: () => Sandbox.spawn(spawnOptions),
        ...(options.onSpawnError ? { onSpawnError: options.onSpawnError } : {}),
      }),
    );
    // Python is prepared on first use: a server that never runs Python never builds a snapshot.
    // (preparePython() shares one preparation per configuration and retries after a failure.)
    const python = () =>
      preparePython({
        denoPath: spawnOptions.denoPath,
        ...(options.pythonCacheDir !== undefined ? { cacheDir: options.pythonCacheDir } : {}),
      });
    const pythonOptions: SandboxSpawnOptions = {
      ...spawnOptions,
      kind: "python",
      dataMb: options.pythonDataMb ?? 2048,
    };
    pools.set(
      "python",
      new SandboxPool({
        size: options.pythonPoolSize ?? 1,
        spawn: async () => Sandbox.spawn({ ...pythonOptions, entry: await python() }),
        ...(options.onSpawnError ? { onSpawnError: options.onSpawnError } : {}),
      }),
    );
    for (const pool of pools.values()) pool.fill();
    return new Runner(pools, python, prlimitPath !== null);
  }

  /**
   * Why these client modules cannot run (a name that is not an identifier, is `tools`, or
   * shadows a module the sandbox can import), or `undefined` when they can.
   */
  async modulesProblem(modules: Record<string, string>): Promise<string | undefined> {
    let importable: ReadonlySet<string>;
    try {
      importable = (await this.#python()).importable;
    } catch {
      // Python is unavailable: acquiring a sandbox reports that.
      return undefined;
    }
    return pythonModulesProblem(modules, importable);
  }

  /** Whether this runner can run `language`. */
  supports(language: Language): boolean {
    return this.#pools.has(sandboxKind(language));
  }

  /** Waits until every pool is full, for benchmarks and tests. */
  async warm(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.warm()));
  }

  /** Idle sandboxes per kind. */
  idle(kind: SandboxKind): number {
    return this.#pools.get(kind)?.idle ?? 0;
  }

  /** Takes a ready sandbox for `language`. */
  acquire(language: Language): Promise<Sandbox> {
    const pool = this.#pools.get(sandboxKind(language));
    if (!pool) return Promise.reject(new Error(`Language not available: ${language}`));
    return pool.acquire();
  }

  /** Kills idle sandboxes and stops refilling. */
  close(): void {
    for (const pool of this.#pools.values()) pool.close();
  }
}

/** Builds the `run` message for a program. */
export function runMessage(
  language: Language,
  code: string,
  toolNames: string[],
  options: ProgramLimits & { reportIdle: boolean; modules?: Record<string, string> },
): RunMessage {
  return {
    type: "run",
    code,
    language,
    toolNames,
    toolsSpecifiers: language === "python" ? [] : findToolsSpecifiers(code),
    maxOutputBytes: options.maxOutputBytes,
    maxToolArgsBytes: options.maxToolArgsBytes,
    reportIdle: options.reportIdle,
    ...(options.modules && Object.keys(options.modules).length > 0
      ? { modules: options.modules }
      : {}),
  };
}

async function findPrlimit(): Promise<string | null> {
  for (const path of ["/usr/bin/prlimit", "/bin/prlimit", "/usr/local/bin/prlimit"]) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}
