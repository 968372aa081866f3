/**
 * How the server starts sandbox host processes and when it retires one (`HostOptions`, derived
 * from the config per sandbox kind by `runner_pools.ts`), where a host is in its life, and why it
 * is retired.
 *
 * @module
 */
import type { SandboxKind } from "../sandbox/messages.ts";
import type { MemoryCgroups } from "./cgroups.ts";
import type { HostListener } from "./host_listener.ts";

/** How to start sandbox host processes, and when to retire one. */
export interface HostOptions {
  kind: SandboxKind;
  /** The runtime binary. */
  denoPath: string;
  /** `prlimit` binary for the data rlimit, or `null` to run without one. */
  prlimitPath: string | null;
  /** V8 old-space cap per isolate, in MiB. */
  heapMb: number;
  /** More V8 flags of this kind of host. */
  v8Flags: string[];
  /** Variables of this kind of host, added to its cleared environment (allocator settings). */
  env: Record<string, string>;
  /** RLIMIT_DATA in MiB (heaps, ArrayBuffers, wasm memory of the whole process). */
  dataMb: number;
  /** Longest line a program may have written for it, in characters (the host enforces it). */
  maxLineLength: number;
  /** How long a host may take to start and connect, in ms. */
  readyTimeoutMs: number;
  /** Extra `deno run` flags and the entry module. */
  entry: { flags: string[]; module: string };
  /** The socket hosts connect to. */
  listener: HostListener;
  /** Programs a host runs at once. */
  maxPrograms: number;
  /**
   * Whether worker threads can be checked in `/proc`: without, a host runs one program only, and
   * once.
   */
  checks: boolean;
  /** Programs a host starts before it is retired. */
  maxRuns: number;
  /** Age after which a host takes no more programs, in ms. */
  maxAgeMs: number;
  /** Where each host gets a memory cgroup (when the bound is a cgroup). */
  cgroups: MemoryCgroups;
  /** The most one host may use: its cgroup's limit when full. */
  memoryBytes: number;
  /** The memory one program may use: its host stops a worker that reports more. */
  programMemoryBytes: number;
  /** The host's own share of its cgroup (its realm, relay and spares), beside its programs'. */
  ownMemoryBytes: number;
}

/** Where a host is in its life. */
export type HostState = "starting" | "ready" | "draining" | "dead";

/**
 * Why a host that just started its `runs`th program takes no more, `ageMs` after it was ready,
 * if it does not.
 */
export function retireReason(
  options: HostOptions,
  runs: number,
  ageMs: number,
): string | undefined {
  return !options.checks
    ? "it runs one program only"
    : runs >= options.maxRuns
    ? "it started its last program"
    : ageMs >= options.maxAgeMs
    ? "it is too old"
    : undefined;
}
