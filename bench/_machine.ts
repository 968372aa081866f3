/**
 * The report header: the machine, OS, Deno and the code version the numbers belong to. Reads
 * /proc (Linux) rather than `Deno.systemMemoryInfo()` and friends, so that the bench needs no
 * `--allow-sys`.
 *
 * @module
 */
import { readSystemFile } from "./_proc.ts";

/** Where and on what the benchmarks ran. */
export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  deno: string;
  date: string;
  commit: string;
  loadavg: string;
}

async function read(path: string): Promise<string> {
  return await readSystemFile(path) ?? "";
}

async function git(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages, as /proc/loadavg has them. */
export async function loadavg(): Promise<string> {
  return (await read("/proc/loadavg")).split(" ").slice(0, 3).join(" ") || "unknown";
}

/** Collects the header facts. */
export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await read("/proc/cpuinfo");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  const cores = cpuinfo.match(/^processor\s*:/gm)?.length ?? navigator.hardwareConcurrency;
  const memKb = Number((await read("/proc/meminfo")).match(/^MemTotal:\s*(\d+)/m)?.[1] ?? NaN);
  const pretty = (await read("/etc/os-release")).match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1];
  const kernel = (await read("/proc/sys/kernel/osrelease")).trim();
  const os = [pretty ?? Deno.build.os, kernel && `kernel ${kernel}`, Deno.build.arch]
    .filter(Boolean).join(", ");
  const head = await git(["rev-parse", "--short", "HEAD"]);
  const status = await git(["status", "--porcelain"]);
  const commit = head === undefined ? "unknown" : status ? `${head} (dirty)` : head;
  return {
    cpu,
    cores,
    ramGiB: memKb / 1024 / 1024,
    os,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    commit,
    loadavg: await loadavg(),
  };
}
