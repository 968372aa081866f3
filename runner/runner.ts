/**
 * The runner: pools of locked sandbox hosts per language, from its start (what the machine
 * allows: `prlimit`, `/proc` checks, cgroups) to its close; whether a language can run now,
 * and a sandbox leased for a program.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { canCheckHosts } from "./host_check.ts";
import { HostListener } from "./host_listener.ts";
import type { HostPool } from "./host_pool.ts";
import type { PoolStats } from "./pool_host.ts";
import { type PythonEntry, pythonModulesProblem } from "./python.ts";
import { type MemoryBound, MemoryCgroups } from "./cgroups.ts";
import type { RunnerConfig } from "./runner_config.ts";
import { createPools } from "./runner_pools.ts";
import type { Sandbox } from "./sandbox.ts";
import type { SandboxKind } from "../sandbox/messages.ts";

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
    const { pools, python } = await createPools(options, {
      prlimitPath,
      checks,
      cgroups,
      listener,
    });
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
