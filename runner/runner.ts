/**
 * The runner: pools of locked sandbox hosts per language, and the `run` message for a program.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { canCheckHosts } from "./host_check.ts";
import { type HostOptions, SandboxHost } from "./host.ts";
import { HostListener } from "./host_listener.ts";
import { HostPool, type PoolHost, type PoolStats } from "./host_pool.ts";
import { preparePython, type PythonEntry, pythonModulesProblem } from "./python.ts";
import { type MemoryBound, MemoryCgroups } from "./cgroups.ts";
import type { Sandbox } from "./sandbox.ts";
import { sandboxRoot } from "./sandbox_files.ts";
import type { RunRequest, SandboxKind } from "../sandbox/messages.ts";
import { scanImports } from "./tools_specifiers.ts";

/** What only code gives the runner: where things are, and what it reports. */
export interface RunnerHooks {
  /**
   * Where the Python memory snapshot is cached.
   * @default {".cache/progtc" of this project}
   */
  pythonCacheDir?: string;
  /**
   * `prlimit` binary, or `null` to run sandboxes without a data rlimit.
   * @default {"/usr/bin/prlimit" when it exists}
   */
  prlimitPath?: string | null;
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

/**
 * What a {@linkcode Runner} is made with: the server's resolved options (server/option_table.ts
 * says what each means and its default), and the hooks.
 */
export interface RunnerConfig extends RunnerHooks {
  poolSize: number;
  pythonPoolSize: number;
  /** Python hosts start on the first Python program, not with the server. */
  pythonLazy: boolean;
  maxHosts: number;
  /** Programs one host runs at once, per kind. */
  hostMaxPrograms: Record<SandboxKind, number>;
  hostMaxRuns: number;
  hostMaxAgeMs: number;
  hostIdleTimeoutMs: number;
  heapMb: number;
  dataMb: number;
  pythonDataMb: number;
  /** What one host may use (its memory cgroup's limit), in bytes, per kind. */
  hostMemoryBytes: Record<SandboxKind, number>;
  /** What one program may use (its host stops it past that), in bytes, per kind. */
  programMemoryBytes: Record<SandboxKind, number>;
  /** What all sandboxes may use together (their parent cgroup's limit is an eighth more). */
  memoryBudgetBytes: number;
  cgroups: "auto" | "off";
  denoPath: string;
  maxLineLength: number;
  readyTimeoutMs: number;
}

/** Whether sandboxes of a language can start now, and why not. */
export type Readiness =
  | { ready: true }
  | {
    ready: false;
    /**
     * `not_ready`: no sandbox of the language can start now; `shutting_down`: the server
     * drains; `over_capacity`: no execution slot, or not the memory for another program.
     */
    code: "not_ready" | "shutting_down" | "over_capacity";
    reason: string;
  };

/** Limits the sandbox applies to one program. */
export interface ProgramLimits {
  maxOutputBytes: number;
  /** The arguments and return value limit (for the sandbox's messages; the server enforces it). */
  maxToolArgsBytes: number;
  /** The longest line the server reads from a host, in UTF-16 units. */
  maxLineLength: number;
  /** What a program's calls sent and not answered yet may take, in UTF-16 units of their lines. */
  maxPendingCallChars: number;
  /** Largest Python heap (Pyodide's wasm memory), in bytes. */
  pythonMemoryBytes: number;
}

const DENO_FLAGS = ["--no-npm", "--unstable-worker-options"];

/**
 * A host's own share of its cgroup beside its programs: its realm, relay and spare workers
 * (measured idle: ~50 MiB TypeScript; Python's spare holds Pyodide, ~220 MiB with its realm).
 */
export const HOST_OWN_MEMORY: Record<SandboxKind, number> = {
  deno: 256 * 2 ** 20,
  python: 512 * 2 ** 20,
};

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
  #listener: HostListener;
  /**
   * Whether hosts run several programs, side by side and one after another: their workers'
   * threads can be checked in `/proc`.
   */
  readonly checksHosts: boolean;

  private constructor(
    pools: Map<SandboxKind, HostPool>,
    python: () => Promise<PythonEntry>,
    flags: { dataLimited: boolean; checksHosts: boolean; readyTimeoutMs: number },
    cgroups: MemoryCgroups,
    listener: HostListener,
  ) {
    this.#cgroups = cgroups;
    this.#listener = listener;
    this.memoryBound = cgroups.bound;
    this.#pools = pools;
    this.#python = python;
    this.dataLimited = flags.dataLimited;
    this.checksHosts = flags.checksHosts;
    this.#readyTimeoutMs = flags.readyTimeoutMs;
  }

  /** Creates the pools and starts filling them off the caller's path. */
  static async create(options: RunnerConfig): Promise<Runner> {
    const prlimitPath = options.prlimitPath !== undefined
      ? options.prlimitPath
      : await findPrlimit();
    const checks = await canCheckHosts();
    const readyTimeoutMs = options.readyTimeoutMs;
    const cgroups = options.cgroups === "off"
      ? MemoryCgroups.disabled("--cgroups off")
      : MemoryCgroups.detect();
    // The kernel's stop, an eighth above the budget: the server ends programs at the budget
    // itself (the largest first), so the kernel acts only on a growth faster than it measures.
    cgroups.limitAll(Math.round(options.memoryBudgetBytes * 1.125));
    // A line of a program, and its slot.
    const listener = HostListener.open(options.maxLineLength + 32);
    const hostOptions: HostOptions = {
      kind: "deno",
      denoPath: options.denoPath,
      prlimitPath,
      heapMb: options.heapMb,
      v8Flags: [],
      env: {},
      dataMb: options.dataMb,
      maxLineLength: options.maxLineLength,
      readyTimeoutMs,
      // Local files: this package's, or a copy when it runs from a URL (sandbox_files.ts).
      entry: {
        flags: DENO_FLAGS,
        module: new URL("typescript/bootstrap.ts", await sandboxRoot()).pathname,
      },
      listener,
      // Without /proc, a worker's end cannot be checked: one program per host, once.
      maxPrograms: checks ? options.hostMaxPrograms.deno : 1,
      checks,
      maxRuns: options.hostMaxRuns,
      maxAgeMs: options.hostMaxAgeMs,
      cgroups,
      memoryBytes: options.hostMemoryBytes.deno,
      programMemoryBytes: options.programMemoryBytes.deno,
      ownMemoryBytes: HOST_OWN_MEMORY.deno,
    };
    const common = {
      maxHosts: options.maxHosts,
      idleTimeoutMs: options.hostIdleTimeoutMs,
      ...(options.onSpawnError ? { onSpawnError: options.onSpawnError } : {}),
      onHostExit: (host: PoolHost, why: string) =>
        options.onHostExit?.({ kind: host.kind, pid: host.pid, runs: host.runs, why }),
    };
    const pools = new Map<SandboxKind, HostPool>();
    pools.set(
      "deno",
      new HostPool({
        ...common,
        size: options.poolSize,
        programsPerHost: hostOptions.maxPrograms,
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
      dataMb: options.pythonDataMb,
      // Each program restores Pyodide in a fresh isolate: mostly allocation. Without helper
      // threads it costs less CPU; a young generation of 2 MiB (V8's default grows to 16) costs
      // ~10% more CPU than one of 16 MiB, but a held program keeps ~12 MiB less of it resident
      // (see BENCHMARKS.md, capacity).
      v8Flags: ["--single-threaded", "--max-semi-space-size=2"],
      // A program's worker frees its copies of the snapshot and the standard library once
      // loaded: blocks that large must go back to the kernel, not to the allocator's heap,
      // where a held program's neighbours would not reuse them. (The server's own setting does
      // not reach a host: its environment is cleared.)
      env: { MALLOC_MMAP_THRESHOLD_: "65536" },
      maxPrograms: checks ? options.hostMaxPrograms.python : 1,
      memoryBytes: options.hostMemoryBytes.python,
      programMemoryBytes: options.programMemoryBytes.python,
      ownMemoryBytes: HOST_OWN_MEMORY.python,
    };
    pools.set(
      "python",
      new HostPool({
        ...common,
        size: options.pythonPoolSize,
        programsPerHost: pythonOptions.maxPrograms,
        lazy: options.pythonLazy,
        spawn: async () => SandboxHost.spawn({ ...pythonOptions, entry: await python() }),
      }),
    );
    for (const pool of pools.values()) pool.fill();
    return new Runner(
      pools,
      python,
      {
        dataLimited: prlimitPath !== null,
        checksHosts: checks,
        readyTimeoutMs,
      },
      cgroups,
      listener,
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
    if (!pool) {
      return { ready: false, code: "not_ready", reason: `This server does not run ${language}` };
    }
    const error = pool.lastError;
    if (error !== undefined) {
      const why = error instanceof Error ? error.message : String(error);
      return {
        ready: false,
        code: "not_ready",
        reason: `${language} sandboxes cannot start: ${why}`,
      };
    }
    if (!pool.active) pool.start();
    const s = pool.stats;
    if (s.ready > 0) return { ready: true };
    return { ready: false, code: "not_ready", reason: `${language} sandboxes are starting` };
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

  /** The memory every host of every kind holds now, in bytes (measured). */
  memoryInUse(): number {
    let bytes = 0;
    for (const pool of this.#pools.values()) bytes += pool.usageBytes;
    return bytes;
  }

  /** Kills every host and stops refilling; their cgroups go once the processes are gone. */
  close(): void {
    const exits = [...this.#pools.values()].map((pool) => pool.close());
    Promise.all(exits).finally(() => {
      this.#cgroups.close();
      this.#listener.close();
    });
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
    session?: boolean | undefined;
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
    maxPendingCallChars: options.maxPendingCallChars,
    reportIdle: options.reportIdle,
    returnValue: options.returnValue === true,
    ...(language === "python" ? { maxMemoryBytes: options.pythonMemoryBytes } : {}),
    ...(options.modules && Object.keys(options.modules).length > 0
      ? { modules: options.modules }
      : {}),
    ...(options.session ? { session: true } : {}),
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
