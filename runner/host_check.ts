/**
 * What the server checks through `/proc` so that a sandbox host may run programs side by side
 * and one after another: that each program's worker thread is gone once the program ended.
 *
 * Deno names a worker's thread `worker-<n>` as it makes it, in creation order (one count for
 * the whole process). The host says when it made a worker, before it gives that worker a
 * program: the server takes the oldest worker thread it has not seen before as that worker's
 * (a program may rename its own thread later, with Node's `process.title`), and keeps its id
 * and start time. Once the host says the worker was terminated, the thread must be gone (the
 * same id with the same start time no longer listed): `worker.terminate()` does not stop a
 * worker busy in a loop (denoland/deno#35657), and such a host takes no new program.
 *
 * Where `/proc` cannot be read (not Linux, or a server without `--allow-all`), hosts run one
 * program each, once.
 *
 * @module
 */

/** A thread of a host process: its id, and its start time (ids are reused; times are not). */
export interface HostThread {
  tid: number;
  start: number;
}

/**
 * Whether this server can check hosts: `/proc/<pid>/task/<tid>/stat` of a child it starts is
 * readable (Linux with procfs).
 */
export async function canCheckHosts(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const child = new Deno.Command("sleep", { args: ["5"], stdout: "null", stderr: "null" })
      .spawn();
    try {
      return threadStart(child.pid, child.pid) !== undefined;
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  } catch {
    return false;
  }
}

/** The start time of thread `tid` of `pid` (clock ticks since boot), or undefined if gone. */
function threadStart(pid: number, tid: number): number | undefined {
  return threadStat(pid, tid)?.start;
}

/**
 * The name and start time of thread `tid` of `pid`, from one read of its `stat`, or undefined
 * if it is gone.
 */
function threadStat(pid: number, tid: number): { comm: string; start: number } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
    // The name is in parentheses and may hold spaces and parentheses itself; starttime is the
    // 22nd field, the 20th after it.
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    const start = Number(fields[19]);
    if (!Number.isFinite(start)) return undefined;
    return { comm: stat.slice(stat.indexOf("(") + 1, close), start };
  } catch {
    return undefined;
  }
}

/** A worker thread of a host: named `worker-<number>` by Deno, in creation order. */
export interface WorkerThread extends HostThread {
  number: number;
}

/** The threads of host `pid` that carry a worker's name now. */
export function workerThreads(pid: number): WorkerThread[] {
  return scanThreads(pid, () => false).workers;
}

/**
 * The threads of host `pid`, but those `skip` names (known already: each costs a read of
 * `/proc`): those that carry a worker's name now, and the others with their names.
 */
export function scanThreads(
  pid: number,
  skip: (tid: number) => boolean,
): { workers: WorkerThread[]; others: { tid: number; comm: string }[] } {
  const workers: WorkerThread[] = [];
  const others: { tid: number; comm: string }[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return { workers, others };
  }
  for (const entry of entries) {
    const tid = Number(entry.name);
    if (skip(tid)) continue;
    // Undefined once the thread exited meanwhile.
    const stat = threadStat(pid, tid);
    if (!stat) continue;
    const number = Number(stat.comm.match(/^worker-(\d+)$/)?.[1]);
    if (Number.isSafeInteger(number)) workers.push({ tid, start: stat.start, number });
    else others.push({ tid, comm: stat.comm });
  }
  workers.sort((a, b) => a.number - b.number);
  return { workers, others };
}

/** Whether `thread` of host `pid` still runs. */
export function threadAlive(pid: number, thread: HostThread): boolean {
  return threadStart(pid, thread.tid) === thread.start;
}

/** Resident memory of `pid`, in bytes (0 once it is gone). */
export function rssBytes(pid: number): number {
  return statusBytes(pid, "VmRSS") ?? 0;
}

/**
 * The private writable address space of `pid` (`VmData`), which its data rlimit bounds, in
 * bytes; undefined once it is gone or where `/proc` cannot be read.
 */
export function dataBytes(pid: number): number | undefined {
  return statusBytes(pid, "VmData");
}

const STATUS_FIELDS = { VmRSS: /^VmRSS:\s+(\d+) kB/m, VmData: /^VmData:\s+(\d+) kB/m };

function statusBytes(pid: number, field: keyof typeof STATUS_FIELDS): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = status.match(STATUS_FIELDS[field])?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
