/**
 * The runner's pools, one per sandbox kind, and the options of their hosts derived from the
 * runner's config: TypeScript's hosts (Deno with the sandbox's bootstrap), and Python's (their
 * V8 flags and allocator, their entry and memory snapshot prepared on first use).
 *
 * @module
 */
import type { HostListener } from "./host_listener.ts";
import { type HostOptions, SandboxHost } from "./host.ts";
import { HostPool } from "./host_pool.ts";
import type { PoolHost } from "./pool_host.ts";
import { preparePython, type PythonEntry } from "./python.ts";
import type { MemoryCgroups } from "./cgroups.ts";
import type { RunnerConfig } from "./runner_config.ts";
import { sandboxRoot } from "./sandbox_files.ts";
import type { SandboxKind } from "../sandbox/messages.ts";

const DENO_FLAGS = ["--no-npm", "--unstable-worker-options"];

/**
 * A host's own share of its cgroup beside its programs: its realm, relay and spare workers
 * (measured idle: ~50 MiB TypeScript; Python's spare holds Pyodide, ~220 MiB with its realm).
 */
export const HOST_OWN_MEMORY: Record<SandboxKind, number> = {
  deno: 256 * 2 ** 20,
  python: 512 * 2 ** 20,
};

/** What the pools are made with beside the config: what the runner found and opened at start. */
export interface PoolSetup {
  /** The `prlimit` binary, or `null` for no data rlimit. */
  prlimitPath: string | null;
  /** Whether workers' threads can be checked in `/proc`. */
  checks: boolean;
  cgroups: MemoryCgroups;
  listener: HostListener;
}

/** The runner's pools, not filled yet, and its Python entry (prepared on the first call). */
export interface RunnerPools {
  pools: Map<SandboxKind, HostPool>;
  python: () => Promise<PythonEntry>;
}

/** Makes a pool per kind, TypeScript's and Python's, with their hosts' options. */
export async function createPools(options: RunnerConfig, setup: PoolSetup): Promise<RunnerPools> {
  const hostOptions = await denoHostOptions(options, setup);
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
  const python = pythonEntry(options, hostOptions.denoPath);
  const pythonOptions = pythonHostOptions(hostOptions, options, setup.checks);
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
  return { pools, python };
}

/** The options of a TypeScript host. */
async function denoHostOptions(options: RunnerConfig, setup: PoolSetup): Promise<HostOptions> {
  const { checks } = setup;
  return {
    kind: "deno",
    denoPath: options.denoPath,
    prlimitPath: setup.prlimitPath,
    heapMb: options.heapMb,
    v8Flags: [],
    env: {},
    dataMb: options.dataMb,
    maxLineLength: options.maxLineLength,
    readyTimeoutMs: options.readyTimeoutMs,
    // Local files: this package's, or a copy when it runs from a URL (sandbox_files.ts).
    entry: {
      flags: DENO_FLAGS,
      module: new URL("typescript/bootstrap.ts", await sandboxRoot()).pathname,
    },
    listener: setup.listener,
    // Without /proc, a worker's end cannot be checked: one program per host, once.
    maxPrograms: checks ? options.hostMaxPrograms.deno : 1,
    checks,
    maxRuns: options.hostMaxRuns,
    maxAgeMs: options.hostMaxAgeMs,
    cgroups: setup.cgroups,
    memoryBytes: options.hostMemoryBytes.deno,
    programMemoryBytes: options.programMemoryBytes.deno,
    ownMemoryBytes: HOST_OWN_MEMORY.deno,
  };
}

/** The options of a Python host: a TypeScript host's, changed (its entry comes at spawn). */
function pythonHostOptions(
  hostOptions: HostOptions,
  options: RunnerConfig,
  checks: boolean,
): HostOptions {
  return {
    ...hostOptions,
    kind: "python",
    dataMb: options.pythonDataMb,
    // Each program restores Pyodide in a fresh isolate: mostly allocation. Without helper
    // threads it costs less CPU; a young generation of 2 MiB (V8's default grows to 16) costs
    // ~10% more CPU than one of 16 MiB, but a held program keeps ~12 MiB less of it resident
    // (see BENCHMARKS.md, capacity). A host's first restore made V8 optimise Pyodide's
    // interpreter (on that worker's thread: 1.5 s of its 1.8 s); 55 times V8's default budget
    // of calls before it does leaves restores to baseline code and optimises only a program's
    // hot code: a host's first worker 0.7 s instead of 1.8, a server's first Python host ready
    // in 1.4–1.7 s instead of 2.6, a CPU-heavy program (0.6–1 s) as fast within the noise, and
    // every later worker no dearer (docs/ARCHITECTURE.md, facts).
    v8Flags: ["--single-threaded", "--max-semi-space-size=2", "--wasm-tiering-budget=100000000"],
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
}

/**
 * The Python entry, prepared on a call (preparePython() shares one preparation per
 * configuration and retries after a failure); `onPythonReady` hears of the first.
 */
function pythonEntry(options: RunnerConfig, denoPath: string): () => Promise<PythonEntry> {
  let reported = false;
  return () =>
    preparePython({
      denoPath,
      ...(options.pythonCacheDir !== undefined ? { cacheDir: options.pythonCacheDir } : {}),
      ...(options.onPythonProgress ? { onProgress: options.onPythonProgress } : {}),
    }).then((entry) => {
      if (!reported) {
        options.onPythonReady?.({ buildMs: entry.buildMs, snapshot: entry.snapshot });
      }
      reported = true;
      return entry;
    });
}
