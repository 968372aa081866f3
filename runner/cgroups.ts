/**
 * A memory cgroup per sandbox host, where the server may create them: the kernel then bounds
 * each host's memory (heaps, buffers, wasm, page cache) by its `memory.max` (cgroup v2) or
 * `memory.limit_in_bytes` (v1), and says when it killed one for crossing it. Where no memory
 * cgroup can be made, hosts are bounded by their RLIMIT_DATA only; {@linkcode MemoryCgroups.detect}
 * says which, and why.
 *
 * - v2: the memory controller must be delegated to the server's cgroup, and the server must be
 *   alone in it. It then moves itself into a `server` child (a cgroup with processes cannot
 *   give controllers to its children), enables `memory` for the children, and makes a
 *   `host-<runner>-<n>` child per host.
 * - v1: the server's cgroup in the memory hierarchy must be writable; hosts get `host-…`
 *   children of a `progtc-<pid>-<random>` group there, one group per runner.
 *
 * Every path goes through a {@linkcode CgroupFs}, so the logic is testable on a directory.
 *
 * @module
 */
import { type CgroupFs, realFs, removeSoon } from "./cgroup_fs.ts";
import { prepareV1, prepareV2 } from "./cgroup_prepare.ts";

/** Which bound is in force on a sandbox host's memory. */
export type MemoryBound =
  | { kind: "cgroup"; version: 1 | 2; root: string }
  | { kind: "rlimit"; why: string };

/** One host's cgroup. */
export interface HostCgroup {
  readonly path: string;
  /** Moves a process into it (before it runs a program). */
  attach(pid: number): void;
  /** Whether the kernel killed a process in it for crossing its limit. */
  oomKilled(): boolean;
  /** The memory charged to it now, in bytes (0 once it cannot be read). */
  usage(): number;
  /** Sets its limit (best effort: a limit the kernel refuses is left as it was). */
  setLimit(bytes: number): void;
  /** Removes it (its process has exited). */
  remove(): void;
}

/** Memory cgroups for the hosts of one server. */
export class MemoryCgroups {
  readonly bound: MemoryBound;
  #fs: CgroupFs;
  /** Names this runner's hosts apart from another's in the same process (tests run several). */
  #id = crypto.randomUUID().slice(0, 8);
  #next = 0;

  private constructor(bound: MemoryBound, fs: CgroupFs) {
    this.bound = bound;
    this.#fs = fs;
  }

  /**
   * Finds where this process may make memory cgroups, and prepares them; a `rlimit` bound,
   * with the reason, where it may not. `procSelfCgroup` is `/proc/self/cgroup`'s text.
   */
  static detect(options: {
    fs?: CgroupFs;
    pid?: number;
    procSelfCgroup?: string;
    mount?: string;
  } = {}): MemoryCgroups {
    const fs = options.fs ?? realFs;
    const pid = options.pid ?? Deno.pid;
    const mount = options.mount ?? "/sys/fs/cgroup";
    let text: string;
    try {
      text = options.procSelfCgroup ?? fs.read("/proc/self/cgroup");
    } catch {
      return new MemoryCgroups({ kind: "rlimit", why: "no /proc/self/cgroup (not Linux?)" }, fs);
    }
    const v1 = text.match(/^\d+:(?:[^:\n]*,)?memory(?:,[^:\n]*)?:(\/[^\n]*)$/m);
    const v2 = text.match(/^0::(\/[^\n]*)$/m);
    const tried: string[] = [];
    if (v1) {
      const result = prepareV1(fs, `${mount}/memory${v1[1] === "/" ? "" : v1[1]}`, pid);
      if (typeof result === "string") {
        return new MemoryCgroups({ kind: "cgroup", version: 1, root: result }, fs);
      }
      tried.push(`v1: ${result.why}`);
    }
    if (v2) {
      const base = fs.exists(`${mount}/cgroup.controllers`) ? mount : `${mount}/unified`;
      const result = prepareV2(fs, `${base}${v2[1] === "/" ? "" : v2[1]}`, pid);
      if (typeof result === "string") {
        return new MemoryCgroups({ kind: "cgroup", version: 2, root: result }, fs);
      }
      tried.push(`v2: ${result.why}`);
    }
    return new MemoryCgroups({ kind: "rlimit", why: tried.join("; ") || "no memory cgroup" }, fs);
  }

  /** Memory cgroups never used: hosts are bounded by their rlimit (for tests and `--cgroups off`). */
  static disabled(why: string): MemoryCgroups {
    return new MemoryCgroups({ kind: "rlimit", why }, realFs);
  }

  /**
   * Limits this runner's hosts together to `bytes` (the memory budget): the kernel then stops
   * the sandboxes before they take the machine's memory, however fast they grow. Once, before
   * the first host. Returns whether it could.
   */
  limitAll(bytes: number): boolean {
    if (this.bound.kind !== "cgroup") return false;
    const fs = this.#fs;
    const root = this.bound.root;
    try {
      if (this.bound.version === 2) {
        fs.write(`${root}/memory.max`, String(bytes));
        if (fs.exists(`${root}/memory.swap.max`)) fs.write(`${root}/memory.swap.max`, "0");
      } else {
        fs.write(`${root}/memory.limit_in_bytes`, String(bytes));
        if (fs.exists(`${root}/memory.memsw.limit_in_bytes`)) {
          fs.write(`${root}/memory.memsw.limit_in_bytes`, String(bytes));
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  /** A new host cgroup limited to `limitBytes`, or `undefined` under the rlimit bound. */
  create(limitBytes: number): HostCgroup | undefined {
    if (this.bound.kind !== "cgroup") return undefined;
    const fs = this.#fs;
    const path = `${this.bound.root}/host-${this.#id}-${this.#next++}`;
    const version = this.bound.version;
    try {
      fs.mkdir(path);
      if (version === 2) {
        fs.write(`${path}/memory.max`, String(limitBytes));
        if (fs.exists(`${path}/memory.swap.max`)) fs.write(`${path}/memory.swap.max`, "0");
      } else {
        fs.write(`${path}/memory.limit_in_bytes`, String(limitBytes));
        // With swap accounting, memory and swap together: no swapping past the limit.
        if (fs.exists(`${path}/memory.memsw.limit_in_bytes`)) {
          fs.write(`${path}/memory.memsw.limit_in_bytes`, String(limitBytes));
        }
      }
    } catch (error) {
      throw new Error(`Cannot make the sandbox's memory cgroup ${path}: ${error}`);
    }
    let limitFiles: string[] | undefined;
    return {
      path,
      attach: (pid) => fs.write(`${path}/cgroup.procs`, String(pid)),
      oomKilled: () => {
        try {
          const file = version === 2 ? "memory.events" : "memory.oom_control";
          return Number(fs.read(`${path}/${file}`).match(/^oom_kill (\d+)$/m)?.[1] ?? 0) > 0;
        } catch {
          return false;
        }
      },
      usage: () => {
        try {
          return Number(
            fs.read(`${path}/${version === 2 ? "memory.current" : "memory.usage_in_bytes"}`).trim(),
          ) || 0;
        } catch {
          return 0;
        }
      },
      setLimit: (bytes) => {
        try {
          if (version === 2) return fs.write(`${path}/memory.max`, String(bytes));
          // v1 checks memory and swap together against memory: raise the larger one first.
          // (Which of the two the kernel has does not change: looked up once.)
          limitFiles ??= ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
            .filter((file) => fs.exists(`${path}/${file}`));
          const files = [...limitFiles];
          const current = Number(fs.read(`${path}/memory.limit_in_bytes`).trim());
          if (bytes > current) files.reverse();
          for (const file of files) fs.write(`${path}/${file}`, String(bytes));
        } catch {
          // Below what it holds, or gone: the limit stays.
        }
      },
      remove: () => removeSoon(fs, path),
    };
  }

  /** Removes what is left of this runner's cgroups (its hosts have exited). */
  close(): void {
    if (this.bound.kind !== "cgroup") return;
    const fs = this.#fs;
    const root = this.bound.root;
    let names: string[] = [];
    try {
      names = fs.list(root).filter((name) => name.startsWith("host-"));
    } catch {
      return;
    }
    for (const name of names) removeSoon(fs, `${root}/${name}`);
    removeSoon(fs, root, names.length > 0 ? 100 : 0);
  }
}
