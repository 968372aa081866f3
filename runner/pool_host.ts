/**
 * What a `HostPool` works with: the {@linkcode PoolHost} it needs of a host (a `SandboxHost`,
 * or a fake in unit tests), the options it is made with, and its stats.
 *
 * @module
 */
import type { HostState } from "./host.ts";
import type { Sandbox, SandboxExit } from "./sandbox.ts";
import type { SandboxKind } from "../sandbox/messages.ts";

/** What the pool needs of a host (`SandboxHost`; a fake in unit tests). */
export interface PoolHost {
  readonly kind: SandboxKind;
  readonly pid: number;
  readonly state: HostState;
  /** Programs it started. */
  readonly runs: number;
  /** Slots taken now. */
  readonly busy: number;
  /** Programs it may still take now (0 unless ready). */
  readonly free: number;
  /** Whether its memory has room for one more program now (it may cost a read from the kernel). */
  hasRoom(): boolean;
  /** Why the host was killed, if it was. */
  readonly why: string | undefined;
  /** The memory it holds now, in bytes. */
  readonly usageBytes: number;
  readonly exited: Promise<SandboxExit>;
  /** Called when a slot frees. */
  onFree: (() => void) | undefined;
  /** Lends a free slot to one execution. */
  lease(): Sandbox;
  kill(why: string): void;
}

/** Options of {@linkcode HostPool}. */
export interface HostPoolOptions {
  /** Hosts kept, programs or not (0: the first program starts one). */
  size: number;
  /** Hosts of this kind at once, whatever their state. */
  maxHosts: number;
  /** Programs one host runs at once (what a starting host will offer). */
  programsPerHost: number;
  /** Do not start hosts before the first `acquire` (Python: no snapshot until it is used). */
  lazy: boolean;
  /** Hosts beyond `size` with no program are retired after this long unused, in ms. */
  idleTimeoutMs: number;
  /** Starts one host and resolves when it is ready. */
  spawn: () => Promise<PoolHost>;
  /** Reports a failed spawn. */
  onSpawnError?: (error: unknown) => void;
  /** Reports a host that was killed (why) or died, after it started. */
  onHostExit?: (host: PoolHost, why: string) => void;
}

/** What a pool holds now. */
export interface PoolStats {
  /** Hosts that take programs. */
  ready: number;
  /** Hosts that take no more programs and end with their last one. */
  draining: number;
  starting: number;
  /** Programs running (slots taken). */
  programs: number;
  /** Free slots of the ready hosts. */
  free: number;
  waiting: number;
}
