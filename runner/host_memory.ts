/**
 * The memory bound of one sandbox host, as the server keeps it: its cgroup (when the bound is a
 * cgroup), whose limit follows the programs it runs (each its cap) above the host's own share and
 * what it retains after its programs, at most the host's bound.
 *
 * @module
 */
import type { HostCgroup } from "./cgroups.ts";
import { dataBytes, rssBytes } from "./host_check.ts";
import type { HostOptions } from "./host_options.ts";

type MemoryOptions = Pick<
  HostOptions,
  "cgroups" | "memoryBytes" | "programMemoryBytes" | "ownMemoryBytes" | "prlimitPath" | "dataMb"
>;

/** Address space each isolate reserves before it runs anything, in MiB (measured: ~520). */
export const ISOLATE_RESERVE_MB = 544;

/** One host's cgroup and what its limit is made of. */
export class HostMemory {
  #options: MemoryOptions;
  #cgroup: HostCgroup | undefined;
  /** Its cgroup's limit now, in bytes. */
  #limit: number;
  /**
   * What the host held above its own share the last time it had no program (what its
   * programs' threads left in the allocator): its programs' caps come on top of it.
   */
  #retained = 0;

  /** Creates the host's cgroup (if the bound is one), limited to its own share at first. */
  constructor(options: MemoryOptions) {
    this.#options = options;
    this.#limit = Math.min(options.memoryBytes, options.ownMemoryBytes);
    this.#cgroup = options.cgroups.create(this.#limit);
  }

  /** Moves process `pid` into the cgroup (throws if it cannot). */
  attach(pid: number): void {
    this.#cgroup?.attach(pid);
  }

  /** The memory process `pid` holds now, in bytes: its cgroup's count, or its resident memory. */
  usage(pid: number): number {
    return this.#cgroup?.usage() || rssBytes(pid);
  }

  /** With no program: what the host holds above its own share (0 without a cgroup). */
  measureRetained(): void {
    const usage = this.#cgroup?.usage();
    this.#retained = usage === undefined ? 0 : Math.max(0, usage - this.#options.ownMemoryBytes);
  }

  /**
   * Whether the host's bound has no room for one more program's cap above its own share and
   * what it retains (a host of one program has no room for any; a host of many has room for a
   * lot).
   */
  get full(): boolean {
    const o = this.#options;
    return o.ownMemoryBytes + this.#retained + o.programMemoryBytes > o.memoryBytes;
  }

  /**
   * Whether the host's bound has room now for one more program's share of it (its cap, or the
   * bound over the host's programs where the caps overcommit it) above what the host holds: a
   * host whose programs (or workers still stopping) hold nearly all of it would have the kernel
   * stop it, with every program on it, as the new one grows. Always, without a cgroup (the
   * kernel then stops no host at its bound) or when it cannot be read.
   */
  roomForProgram(maxPrograms: number): boolean {
    const usage = this.#cgroup?.usage() ?? 0;
    const o = this.#options;
    const share = Math.min(o.programMemoryBytes, o.memoryBytes / maxPrograms);
    return usage === 0 || usage + share <= o.memoryBytes;
  }

  /**
   * Whether the address space of host `pid` has room under its data rlimit for one more isolate
   * (a program's worker, or the spare that replaces the one it takes). A program's ArrayBuffers
   * count there, and in no cgroup until their pages are touched: a bomb of untouched buffers
   * takes its host to the rlimit, and a worker started before the bomb's is gone cannot reserve
   * its heap, which V8 does not survive (measured right after such a bomb ended: 37.7 GiB of a
   * 37.8 GiB rlimit, 2.1 GiB again 10 to 35 ms later, as its worker went). Always without a
   * data rlimit, or where `/proc` cannot be read.
   */
  addressRoom(pid: number): boolean {
    if (this.#options.prlimitPath === null) return true;
    const data = dataBytes(pid);
    return data === undefined ||
      data + ISOLATE_RESERVE_MB * 2 ** 20 <= this.#options.dataMb * 2 ** 20;
  }

  /**
   * Sets the cgroup to what `programs` programs may hold (each its cap) above its own share and
   * what it retains, at most its bound: the kernel then holds a program that never reports its
   * memory near its own cap when it runs with few others. Lowered no further than what the host
   * holds now.
   */
  fit(programs: number): void {
    const cgroup = this.#cgroup;
    if (!cgroup) return;
    const o = this.#options;
    const target = Math.min(
      o.memoryBytes,
      o.ownMemoryBytes + this.#retained + programs * o.programMemoryBytes,
    );
    if (target === this.#limit) return;
    const limit = target > this.#limit
      ? target
      : Math.min(this.#limit, Math.max(target, cgroup.usage() + 64 * 2 ** 20));
    cgroup.setLimit(limit);
    this.#limit = limit;
  }

  /** Once the process is gone: whether the kernel killed it at the limit; the cgroup is removed. */
  end(): boolean {
    const oomKilled = this.#cgroup?.oomKilled() ?? false;
    this.#cgroup?.remove();
    return oomKilled;
  }
}
