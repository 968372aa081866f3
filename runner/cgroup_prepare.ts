/**
 * Where this process may make memory cgroups, prepared: under cgroup v1, a `progtc-<pid>-…`
 * group in the server's own memory cgroup; under v2, the memory controller enabled for the
 * children of the server's cgroup (the server moved into a `server` child, if it is alone),
 * then such a group in it. What servers that ended without cleaning up left is removed first.
 *
 * @module
 */
import type { CgroupFs } from "./cgroup_fs.ts";

/**
 * Prepares cgroup v1 at `own`, the server's memory cgroup: the group of one runner's hosts, or
 * why it cannot be made.
 */
export function prepareV1(fs: CgroupFs, own: string, pid: number): string | { why: string } {
  if (!fs.exists(`${own}/memory.limit_in_bytes`)) return { why: `no memory controller at ${own}` };
  removeStale(fs, own, /^progtc-(\d+)-/);
  // One group per runner (a process may run several servers, as tests do).
  const root = `${own}/progtc-${pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (!fs.exists(root)) fs.mkdir(root);
    // Its hosts' memory counts towards its own limit (always so on recent kernels).
    if (fs.exists(`${root}/memory.use_hierarchy`)) fs.write(`${root}/memory.use_hierarchy`, "1");
    return root;
  } catch (error) {
    return { why: `cannot create ${root}: ${error instanceof Error ? error.message : error}` };
  }
}

/**
 * Prepares cgroup v2 at `own`, the server's cgroup: the group of one runner's hosts, with the
 * memory controller enabled for its children, or why it cannot be.
 */
export function prepareV2(fs: CgroupFs, own: string, pid: number): string | { why: string } {
  let controllers: string;
  try {
    controllers = fs.read(`${own}/cgroup.controllers`);
  } catch {
    return { why: `no cgroup v2 directory at ${own}` };
  }
  if (!controllers.split(/\s+/).includes("memory")) {
    return { why: `the memory controller is not delegated to ${own}` };
  }
  const enabled = () => fs.read(`${own}/cgroup.subtree_control`).split(/\s+/).includes("memory");
  try {
    if (!enabled()) {
      // A cgroup with processes cannot give controllers to its children: move the server
      // into a child of its own, if it is alone.
      const procs = fs.read(`${own}/cgroup.procs`).split("\n").filter(Boolean).map(Number);
      if (procs.some((p) => p !== pid)) {
        return { why: `other processes share ${own}; give progtc a cgroup of its own` };
      }
      if (procs.includes(pid)) {
        if (!fs.exists(`${own}/server`)) fs.mkdir(`${own}/server`);
        fs.write(`${own}/server/cgroup.procs`, String(pid));
      }
      fs.write(`${own}/cgroup.subtree_control`, "+memory");
    }
    // One group per runner, its hosts' parent (a process may run several servers, as tests do).
    removeStale(fs, own, /^progtc-(\d+)-/);
    const root = `${own}/progtc-${pid}-${crypto.randomUUID().slice(0, 8)}`;
    fs.mkdir(root);
    fs.write(`${root}/cgroup.subtree_control`, "+memory");
    return root;
  } catch (error) {
    return {
      why: `cannot enable memory for ${own}'s children: ${
        error instanceof Error ? error.message : error
      }`,
    };
  }
}

/**
 * Removes what a server that ended without cleaning up left in `dir`: empty host cgroups (v2),
 * or the groups of servers whose process is gone (v1). Best effort: a busy one stays.
 */
function removeStale(fs: CgroupFs, dir: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = fs.list(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.match(pattern);
    if (!match) continue;
    const owner = match[1];
    if (owner !== undefined && fs.exists(`/proc/${owner}`)) continue;
    try {
      if (owner !== undefined) {
        for (const child of fs.list(`${dir}/${name}`)) {
          if (child.startsWith("host-")) fs.rmdir(`${dir}/${name}/${child}`);
        }
      } else if (fs.read(`${dir}/${name}/cgroup.procs`).trim() !== "") {
        continue;
      }
      fs.rmdir(`${dir}/${name}`);
    } catch {
      // Still in use.
    }
  }
}
