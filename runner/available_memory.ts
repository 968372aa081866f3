/**
 * The memory this process can count on at start: the machine's available memory, or less when
 * its cgroup (v1 or v2) leaves less.
 *
 * @module
 */
import { type CgroupFs, realFs } from "./cgroup_fs.ts";

/**
 * Memory this process can count on at start, in bytes: the host's available memory, or less
 * when its cgroup's limit leaves less. `meminfo` and the cgroup files are read through `fs`.
 */
export function availableMemory(fs: CgroupFs = realFs, procSelfCgroup?: string): number {
  let available = Infinity;
  try {
    const kb = fs.read("/proc/meminfo").match(/^MemAvailable:\s+(\d+) kB$/m)?.[1];
    if (kb) available = Number(kb) * 1024;
  } catch {
    // Not Linux.
  }
  try {
    const text = procSelfCgroup ?? fs.read("/proc/self/cgroup");
    const v1 = text.match(/^\d+:(?:[^:\n]*,)?memory(?:,[^:\n]*)?:(\/[^\n]*)$/m);
    const v2 = text.match(/^0::(\/[^\n]*)$/m);
    const limits: [string, string][] = [];
    if (v1) {
      const dir = `/sys/fs/cgroup/memory${v1[1] === "/" ? "" : v1[1]}`;
      limits.push([`${dir}/memory.limit_in_bytes`, `${dir}/memory.usage_in_bytes`]);
    }
    if (v2) {
      const dir = `/sys/fs/cgroup${v2[1] === "/" ? "" : v2[1]}`;
      limits.push([`${dir}/memory.max`, `${dir}/memory.current`]);
    }
    for (const [limitFile, usageFile] of limits) {
      try {
        const limit = Number(fs.read(limitFile).trim());
        const usage = Number(fs.read(usageFile).trim());
        if (Number.isFinite(limit) && limit < 2 ** 62) {
          available = Math.min(available, limit - usage);
        }
      } catch {
        // That version is not mounted there.
      }
    }
  } catch {
    // No cgroup information.
  }
  return Number.isFinite(available) ? available : 8 * 2 ** 30;
}
