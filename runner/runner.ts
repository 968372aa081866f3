/**
 * The runner: pools of locked sandbox hosts per language, and the `run` message for a program.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { canCheckHosts } from "./host_check.ts";
import { type HostOptions, SandboxHost } from "./host.ts";
import { HostPool, type PoolHost, type PoolStats } from "./host_pool.ts";
import { preparePython, type PythonEntry, pythonModulesProblem } from "./python.ts";
import { type MemoryBound, MemoryCgroups } from "./cgroups.ts";
import type { Sandbox } from "./sandbox.ts";
import { sandboxRoot } from "./sandbox_files.ts";
import type { RunRequest, SandboxKind } from "./sandbox_protocol.ts";
import { scanImports } from "./tools_specifiers.ts";

/** Options of {@linkcode Runner}. */
export interface RunnerOptions {
  /**
   * TypeScript/JavaScript sandbox hosts kept ready.
   * @default {2}
   */
  poolSize?: number;
  /**
   * Python sandbox hosts kept ready. When it is not given, Python hosts (and the snapshot) start
   * on the first Python program; when it is, they start with the server.
   * @default {1, from the first Python program on}
   */
  pythonPoolSize?: number;
  /**
   * Sandbox hosts of each language at once, whatever they do.
   * @default {96}
   */
  maxHosts?: number;
  /**
   * Programs one sandbox host runs (each in a fresh worker) before it is retired; 1 gives every
   * program a new process.
   * @default {1000}
   */
  hostMaxRuns?: number;
  /**
   * Seconds after which a sandbox host takes no more programs.
   * @default {600}
   */
  hostMaxAge?: number;
  /**
   * Resident memory of a TypeScript/JavaScript sandbox host above which it takes no more
   * programs, in MiB (Python: twice this).
   * @default {512}
   */
  hostMaxRssMb?: number;
  /**
   * Seconds a ready host beyond what the pool needs (its size, or the demand of the last
   * minute if higher) waits unused before it is retired.
   * @default {60}
   */
  hostIdleTimeout?: number;
  /**
   * V8 heap cap per isolate of a sandbox, in MiB.
   * @default {256}
   */
  heapMb?: number;
  /**
   * Data rlimit per sandbox host (heaps, ArrayBuffers, wasm), in MiB. A host holds up to three
   * isolates (its own realm, the running program's worker and the next one), and Deno reserves
   * about 1.8 GiB of address space for them before it runs anything.
   * @default {2304}
   */
  dataMb?: number;
  /**
   * Data rlimit per Python sandbox host, in MiB: the same isolates, plus two Pyodide instances
   * (the running program's and the next one's wasm memory).
   * @default {3072}
   */
  pythonDataMb?: number;
  /**
   * The memory one TypeScript/JavaScript sandbox host may use, in MiB: its memory cgroup's
   * limit where the server can make cgroups, and what admission charges for it. (Under the
   * default data rlimit alone a host cannot use more: ~765 MiB was the most measured.)
   * @default {768}
   */
  sandboxMemoryMb?: number;
  /**
   * The memory one Python sandbox host may use, in MiB (as `sandboxMemoryMb`; ~1.47 GiB was the
   * most measured under the default data rlimit).
   * @default {1536}
   */
  pythonSandboxMemoryMb?: number;
  /**
   * `"auto"`: a memory cgroup per sandbox host where the server may make them; `"off"`: the
   * data rlimit only.
   * @default {"auto"}
   */
  cgroups?: "auto" | "off";
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
   * How long a sandbox host may take to become ready, in ms.
   * @default {20000}
   */
  readyTimeoutMs?: number;
  /** Reports a failed background spawn. */
  onSpawnError?: (error: unknown) => void;
  /**
   * Reports that Python is ready: the memory snapshot was built (`buildMs` > 0, the first time
   * on this machine) or found in the cache.
   */
  onPythonReady?: (info: { buildMs: number; snapshot: string }) => void;
  /** Reports the progress of a Python snapshot build (a few lines over 4–10 s). */
  onPythonProgress?: (message: string) => void;
  /** Reports a sandbox host that was retired or died after it started, and why. */
  onHostExit?: (info: { kind: SandboxKind; pid: number; runs: number; why: string }) => void;
}

/** Whether sandboxes of a language can start now, and why not. */
export type Readiness = { ready: true } | { ready: false; reason: string };

/** Limits the sandbox applies to one program. */
export interface ProgramLimits {
  maxOutputBytes: number;
  /** The arguments and return value limit (for the sandbox's messages; the server enforces it). */
  maxToolArgsBytes: number;
  /** The longest line the server reads from a host, in UTF-16 units. */
  maxLineLength: number;
  /** Largest Python heap (Pyodide's wasm memory), in bytes. */
  pythonMemoryBytes: number;
}

const DENO_FLAGS = ["--no-npm", "--unstable-worker-options"];

/** Which sandbox runs a language. */
export function sandboxKind(language: Language): SandboxKind {
  return language === "python" ? "python" : "deno";
}

/** Pools of locked sandbox hosts, per language. */
export class Runner {
  #pools: Map<SandboxKind, HostPool>;
  #python: () => Promise<PythonEntry>;
  #readyTimeoutMs: number;
  /** Whether sandboxes run under an RLIMIT_DATA cap (`prlimit` was found). */
  readonly dataLimited: boolean;
  /** What bounds a host's memory: a cgroup each, or the data rlimit only (and why). */
  readonly memoryBound: MemoryBound;
  #cgroups: MemoryCgroups;
  #memoryBytes: Record<SandboxKind, number>;
  /** Whether hosts run more than one program (their processes can be checked in `/proc`). */
  readonly reusesHosts: boolean;

  private constructor(
    pools: Map<SandboxKind, HostPool>,
    python: () => Promise<PythonEntry>,
    flags: { dataLimited: boolean; reusesHosts: boolean; readyTimeoutMs: number },
    cgroups: MemoryCgroups,
    memoryBytes: Record<SandboxKind, number>,
  ) {
    this.#cgroups = cgroups;
    this.memoryBound = cgroups.bound;
    this.#memoryBytes = memoryBytes;
    this.#pools = pools;
    this.#python = python;
    this.dataLimited = flags.dataLimited;
    this.reusesHosts = flags.reusesHosts;
    this.#readyTimeoutMs = flags.readyTimeoutMs;
  }

  /** Creates the pools and starts filling them off the caller's path. */
  static async create(options: RunnerOptions = {}): Promise<Runner> {
    const prlimitPath = options.prlimitPath !== undefined
      ? options.prlimitPath
      : await findPrlimit();
    const maxRuns = options.hostMaxRuns ?? 1000;
    const reuse = maxRuns > 1 && await canCheckHosts();
    const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    const cgroups = options.cgroups === "off"
      ? MemoryCgroups.disabled("--cgroups off")
      : MemoryCgroups.detect();
    const memoryBytes: Record<SandboxKind, number> = {
      deno: (options.sandboxMemoryMb ?? 768) * 1024 * 1024,
      python: (options.pythonSandboxMemoryMb ?? 1536) * 1024 * 1024,
    };
    const hostOptions: HostOptions = {
      kind: "deno",
      denoPath: options.denoPath ?? Deno.execPath(),
      prlimitPath,
      heapMb: options.heapMb ?? 256,
      v8Flags: [],
      dataMb: options.dataMb ?? 2304,
      maxLineLength: options.maxLineLength ?? 16 * 1024 * 1024,
      readyTimeoutMs,
      // Local files: this package's, or a copy when it runs from a URL (sandbox_files.ts).
      entry: {
        flags: DENO_FLAGS,
        module: new URL("deno_sandbox/bootstrap.ts", await sandboxRoot()).pathname,
      },
      reuse,
      maxRuns,
      maxAgeMs: (options.hostMaxAge ?? 600) * 1000,
      maxRssBytes: (options.hostMaxRssMb ?? 512) * 1024 * 1024,
      cgroups,
      memoryBytes: memoryBytes.deno,
    };
    const maxHosts = options.maxHosts ?? 96;
    const common = {
      maxHosts,
      idleTimeoutMs: (options.hostIdleTimeout ?? 60) * 1000,
      ...(options.onSpawnError ? { onSpawnError: options.onSpawnError } : {}),
      onHostExit: (host: PoolHost, why: string) =>
        options.onHostExit?.({ kind: host.kind, pid: host.pid, runs: host.runs, why }),
    };
    const pools = new Map<SandboxKind, HostPool>();
    pools.set(
      "deno",
      new HostPool({
        ...common,
        size: options.poolSize ?? 2,
        lazy: false,
        spawn: () => SandboxHost.spawn(hostOptions),
      }),
    );
    // Python is prepared on first use unless a pool size asks for it at start.
    // (preparePython() shares one preparation per configuration and retries after a failure.)
    let reported = false;
    const python = () =>
      preparePython({
        denoPath: hostOptions.denoPath,
        ...(options.pythonCacheDir !== undefined ? { cacheDir: options.pythonCacheDir } : {}),
        ...(options.onPythonProgress ? { onProgress: options.onPythonProgress } : {}),
      }).then((entry) => {
        if (!reported) {
          options.onPythonReady?.({ buildMs: entry.buildMs, snapshot: entry.snapshot });
        }
        reported = true;
        return entry;
      });
    const pythonOptions: HostOptions = {
      ...hostOptions,
      kind: "python",
      dataMb: options.pythonDataMb ?? 3072,
      // Each program restores Pyodide in a fresh isolate: mostly allocation. Without helper
      // threads and with a larger young generation that costs about 30% less CPU, for Python
      // code that runs about 10% slower (see BENCHMARKS.md).
      v8Flags: ["--single-threaded", "--min-semi-space-size=16"],
      maxRssBytes: hostOptions.maxRssBytes * 2,
      memoryBytes: memoryBytes.python,
    };
    pools.set(
      "python",
      new HostPool({
        ...common,
        size: options.pythonPoolSize ?? 1,
        lazy: options.pythonPoolSize === undefined,
        spawn: async () => SandboxHost.spawn({ ...pythonOptions, entry: await python() }),
      }),
    );
    for (const pool of pools.values()) pool.fill();
    return new Runner(
      pools,
      python,
      {
        dataLimited: prlimitPath !== null,
        reusesHosts: reuse,
        readyTimeoutMs,
      },
      cgroups,
      memoryBytes,
    );
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

  /**
   * Waits until the pools of `kinds` are full (starting them if they are lazy); without
   * `kinds`, every pool that started. For benchmarks and tests.
   */
  async warm(...kinds: SandboxKind[]): Promise<void> {
    const pools = kinds.length > 0
      ? kinds.map((kind) => this.#pools.get(kind)!)
      : [...this.#pools.values()].filter((pool) => pool.active);
    await Promise.all(pools.map((pool) => pool.warm()));
  }

  /**
   * Whether sandboxes of `language` can start now: a host is ready or in use and the last
   * spawn did not fail. A pool that has not started (Python before its first program) starts.
   */
  readiness(language: Language): Readiness {
    const pool = this.#pools.get(sandboxKind(language));
    if (!pool) return { ready: false, reason: `This server does not run ${language}` };
    const error = pool.lastError;
    if (error !== undefined) {
      const why = error instanceof Error ? error.message : String(error);
      return { ready: false, reason: `${language} sandboxes cannot start: ${why}` };
    }
    if (!pool.active) pool.start();
    const s = pool.stats;
    if (s.ready > 0 || s.leased > 0) return { ready: true };
    return { ready: false, reason: `${language} sandboxes are starting` };
  }

  /** What the pool of `kind` holds now. */
  stats(kind: SandboxKind): PoolStats {
    return this.#pools.get(kind)!.stats;
  }

  /** Process ids of the live hosts of `kind`. */
  pids(kind: SandboxKind): number[] {
    return this.#pools.get(kind)!.pids;
  }

  /** Leases a ready sandbox for `language`. */
  acquire(language: Language): Promise<Sandbox> {
    const pool = this.#pools.get(sandboxKind(language));
    if (!pool) return Promise.reject(new Error(`Language not available: ${language}`));
    return pool.acquire(this.#readyTimeoutMs);
  }

  /** The memory one sandbox of `language` may use, in bytes (what admission charges). */
  memoryBytes(language: Language): number {
    return this.#memoryBytes[sandboxKind(language)];
  }

  /** Kills every host and stops refilling; their cgroups go once the processes are gone. */
  close(): void {
    const exits = [...this.#pools.values()].map((pool) => pool.close());
    Promise.all(exits).finally(() => this.#cgroups.close());
  }
}

/** Builds the `run` message for a program. */
export function runMessage(
  language: Language,
  code: string,
  toolNames: string[],
  options: ProgramLimits & {
    reportIdle: boolean;
    returnValue?: boolean | undefined;
    modules?: Record<string, string> | undefined;
  },
): RunRequest {
  return {
    type: "run",
    code,
    language,
    toolNames,
    ...(language === "python" ? { toolsSpecifiers: [], nodeModules: false } : scanImports(code)),
    maxOutputBytes: options.maxOutputBytes,
    maxToolArgsBytes: options.maxToolArgsBytes,
    maxLineLength: options.maxLineLength,
    reportIdle: options.reportIdle,
    returnValue: options.returnValue === true,
    ...(language === "python" ? { maxMemoryBytes: options.pythonMemoryBytes } : {}),
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
