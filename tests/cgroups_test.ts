/**
 * Unit tests of `MemoryCgroups` on an in-memory cgroup file system (the real v1 path is tried
 * end to end in tests/security/memory_test.ts; this machine has no cgroup v2 memory controller,
 * so the v2 steps are checked here, file by file).
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { availableMemory } from "../runner/available_memory.ts";
import type { CgroupFs } from "../runner/cgroup_fs.ts";
import { MemoryCgroups } from "../runner/cgroups.ts";

/** Files and directories in memory; writes to a cgroup.procs file append a line. */
class MemoryFs implements CgroupFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  writes: [string, string][] = [];
  failWrite: RegExp | undefined;

  read(path: string): string {
    const text = this.files.get(path);
    if (text === undefined) throw new Deno.errors.NotFound(path);
    return text;
  }
  write(path: string, data: string): void {
    if (this.failWrite?.test(path)) throw new Deno.errors.PermissionDenied(path);
    this.writes.push([path, data]);
    const old = this.files.get(path) ?? "";
    this.files.set(path, path.endsWith("cgroup.procs") ? `${old}${data}\n` : data);
  }
  mkdir(path: string): void {
    if (this.dirs.has(path)) throw new Deno.errors.AlreadyExists(path);
    this.dirs.add(path);
    // The kernel makes a new cgroup's files.
    for (const file of ["cgroup.procs", "memory.max", "memory.swap.max", "memory.events"]) {
      this.files.set(`${path}/${file}`, file === "memory.events" ? "oom 0\noom_kill 0\n" : "");
    }
  }
  rmdir(path: string): void {
    this.dirs.delete(path);
  }
  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }
  list(path: string): string[] {
    const names = new Set<string>();
    for (const entry of [...this.dirs, ...this.files.keys()]) {
      if (entry.startsWith(`${path}/`)) names.add(entry.slice(path.length + 1).split("/")[0]!);
    }
    return [...names];
  }
}

function v2Fs(procs: string): MemoryFs {
  const fs = new MemoryFs();
  const own = "/sys/fs/cgroup/app";
  fs.files.set("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids");
  fs.files.set(`${own}/cgroup.controllers`, "cpu memory pids");
  fs.files.set(`${own}/cgroup.subtree_control`, "");
  fs.files.set(`${own}/cgroup.procs`, procs);
  fs.dirs.add(own);
  return fs;
}

Deno.test("cgroup v2: the server moves itself into a child, enables memory, and limits each host", () => {
  const fs = v2Fs("42\n");
  const cgroups = MemoryCgroups.detect({ fs, pid: 42, procSelfCgroup: "0::/app\n" });
  const root = (cgroups.bound as { root: string }).root;
  match(root, /^\/sys\/fs\/cgroup\/app\/progtc-42-[0-9a-f]{8}$/);
  deepStrictEqual(fs.writes, [
    ["/sys/fs/cgroup/app/server/cgroup.procs", "42"],
    ["/sys/fs/cgroup/app/cgroup.subtree_control", "+memory"],
    [`${root}/cgroup.subtree_control`, "+memory"],
  ]);
  // The hosts together: the memory budget.
  strictEqual(cgroups.limitAll(4096 * 2 ** 20), true);
  strictEqual(fs.files.get(`${root}/memory.max`), String(4096 * 2 ** 20));
  strictEqual(fs.files.get(`${root}/memory.swap.max`), "0");
  const host = cgroups.create(768 * 2 ** 20)!;
  match(host.path, /^\/sys\/fs\/cgroup\/app\/progtc-42-[0-9a-f]{8}\/host-[0-9a-f]{8}-0$/);
  strictEqual(fs.files.get(`${host.path}/memory.max`), String(768 * 2 ** 20));
  strictEqual(fs.files.get(`${host.path}/memory.swap.max`), "0");
  host.attach(1234);
  strictEqual(fs.files.get(`${host.path}/cgroup.procs`), "1234\n");
  strictEqual(host.oomKilled(), false);
  fs.files.set(`${host.path}/memory.events`, "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n");
  strictEqual(host.oomKilled(), true);
  host.remove();
  strictEqual(fs.exists(host.path), false);
  strictEqual(cgroups.create(1)!.path, host.path.replace(/0$/, "1"));
});

Deno.test("cgroup v2: no memory controller, or other processes in the cgroup, leaves the rlimit", () => {
  const shared = MemoryCgroups.detect({
    fs: v2Fs("1\n42\n"),
    pid: 42,
    procSelfCgroup: "0::/app\n",
  });
  strictEqual(shared.bound.kind, "rlimit");
  match((shared.bound as { why: string }).why, /other processes share \/sys\/fs\/cgroup\/app/);
  strictEqual(shared.create(1), undefined);

  const fs = v2Fs("42\n");
  fs.files.set("/sys/fs/cgroup/app/cgroup.controllers", "cpu pids");
  const undelegated = MemoryCgroups.detect({ fs, pid: 42, procSelfCgroup: "0::/app\n" });
  match((undelegated.bound as { why: string }).why, /memory controller is not delegated/);

  const denied = v2Fs("42\n");
  denied.failWrite = /subtree_control/;
  const bound = MemoryCgroups.detect({ fs: denied, pid: 42, procSelfCgroup: "0::/app\n" }).bound;
  match(
    (bound as { why: string }).why,
    /cannot enable memory for \/sys\/fs\/cgroup\/app's children/,
  );
});

Deno.test("cgroup v1: hosts get children of a progtc group, limited with swap, OOM read from oom_control", () => {
  const fs = new MemoryFs();
  const own = "/sys/fs/cgroup/memory/job";
  fs.files.set(`${own}/memory.limit_in_bytes`, "9223372036854771712");
  fs.files.set(`${own}/memory.memsw.limit_in_bytes`, "9223372036854771712");
  const cgroups = MemoryCgroups.detect({
    fs,
    pid: 7,
    procSelfCgroup: "5:cpu:/\n4:memory:/job\n0::/\n",
  });
  strictEqual(cgroups.bound.kind, "cgroup");
  match(
    (cgroups.bound as { root: string }).root,
    /^\/sys\/fs\/cgroup\/memory\/job\/progtc-7-[0-9a-f]{8}$/,
  );
  fs.mkdir = (path) => {
    fs.dirs.add(path);
    fs.files.set(`${path}/memory.memsw.limit_in_bytes`, "");
    fs.files.set(`${path}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  };
  const root = (cgroups.bound as { root: string }).root;
  strictEqual(cgroups.limitAll(1000), true);
  strictEqual(fs.files.get(`${root}/memory.limit_in_bytes`), "1000");
  const host = cgroups.create(100)!;
  strictEqual(host.path.startsWith(`${root}/host-`), true);
  strictEqual(fs.files.get(`${host.path}/memory.limit_in_bytes`), "100");
  strictEqual(fs.files.get(`${host.path}/memory.memsw.limit_in_bytes`), "100");
  strictEqual(host.oomKilled(), false);
  fs.files.set(`${host.path}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  strictEqual(host.oomKilled(), true);
});

Deno.test("available memory is the host's, or what its cgroup's limit leaves", () => {
  const fs = new MemoryFs();
  fs.files.set("/proc/meminfo", "MemTotal: 24000000 kB\nMemAvailable:   20000000 kB\n");
  strictEqual(availableMemory(fs, "0::/\n"), 20_000_000 * 1024);
  fs.files.set("/sys/fs/cgroup/app/memory.max", "4294967296\n");
  fs.files.set("/sys/fs/cgroup/app/memory.current", "1073741824\n");
  strictEqual(availableMemory(fs, "0::/app\n"), 3 * 2 ** 30);
  fs.files.set("/sys/fs/cgroup/app/memory.max", "max\n");
  strictEqual(availableMemory(fs, "0::/app\n"), 20_000_000 * 1024);
});
