/**
 * What a {@linkcode Runner} is made with: the server's resolved options for its pools and
 * hosts, and the hooks only code gives (where the Python snapshot is cached, what it reports).
 *
 * @module
 */
import type { SandboxKind } from "../sandbox/messages.ts";

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
