/**
 * What the server checks, through `/proc`, before it gives a sandbox host its next program: that
 * nothing of the previous program can still run or read the next program's lines.
 *
 * A program runs in a worker thread (`worker-<n>`); the reads it starts run on blocking-pool
 * threads (`tokio-runtime-w`). A host is idle, and may take a program, only when:
 * - the only worker threads are those the host made and named in its `ready` (Deno names them
 *   `worker-<n>` in creation order): the fresh one that will run the next program, and its
 *   spare; the previous program's worker is gone, and so is any worker a program made;
 * - no thread but that fresh worker reads the host's stdin pipe (a `read` on any descriptor of
 *   that pipe or on a closed one, or an epoll set that holds one);
 * - every thread but the host's own (its main thread, the threads it named, V8's platform
 *   workers, its workers) is asleep in a system call other than a read: a thread that is
 *   running might be about to read, and blocking-pool threads are where a program's reads run.
 *
 * Everything is read from `/proc/<pid>`; where it cannot be read (not Linux, or no access to
 * `/proc/<pid>/task/<tid>/syscall`), hosts are not reused at all.
 *
 * @module
 */

/** How a check came out. */
export type HostCheck =
  | { type: "idle"; rssBytes: number }
  /** Not yet: a thread is still stopping or running; check again shortly. */
  | { type: "busy"; why: string }
  /** The host must not run another program. */
  | { type: "unsafe"; why: string };

// x86_64 and aarch64 numbers of the system calls that read a descriptor, or wait on epoll.
const READS: Record<string, ReadonlySet<number>> = {
  x64: new Set([0, 17, 19, 295, 327, 45, 47, 299]),
  arm64: new Set([63, 67, 65, 69, 286, 207, 212, 243]),
};
const EPOLL_WAITS: Record<string, ReadonlySet<number>> = {
  x64: new Set([232, 281, 441]),
  arm64: new Set([22, 441]),
};
const ARCH = Deno.build.arch === "aarch64" ? "arm64" : "x64";

/**
 * Whether this server can check hosts: `/proc/<pid>/task/<tid>/syscall` of a child it starts is
 * readable (Linux with procfs, and ptrace access to its own children).
 */
export async function canCheckHosts(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const child = new Deno.Command("sleep", { args: ["5"], stdout: "null", stderr: "null" })
      .spawn();
    try {
      // Give exec a moment: the syscall file of a process that is still forking reads "running".
      await new Promise((resolve) => setTimeout(resolve, 20));
      const text = Deno.readTextFileSync(`/proc/${child.pid}/task/${child.pid}/syscall`);
      return text.length > 0;
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  } catch {
    return false;
  }
}

interface Thread {
  tid: number;
  comm: string;
  /** The system call the thread sleeps in and its first argument, or undefined if running. */
  syscall: { nr: number; arg0: number } | undefined;
}

function readThreads(pid: number): Thread[] {
  const threads: Thread[] = [];
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    const tid = Number(entry.name);
    const base = `/proc/${pid}/task/${tid}`;
    let comm: string;
    let syscall: string;
    try {
      comm = Deno.readTextFileSync(`${base}/comm`).trim();
      syscall = Deno.readTextFileSync(`${base}/syscall`).trim();
    } catch {
      continue; // The thread exited meanwhile.
    }
    const [nr, arg0] = syscall.split(" ");
    const number = Number(nr);
    threads.push({
      tid,
      comm,
      syscall: syscall === "running" || !(number >= 0)
        ? undefined
        : { nr: number, arg0: Number.parseInt(arg0 ?? "", 16) },
    });
  }
  return threads;
}

function link(pid: number, fd: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Whether the epoll set `epfd` of `pid` holds a descriptor of `pipe`. */
function epollWatches(pid: number, epfd: number, pipe: string): boolean {
  let info: string;
  try {
    info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${epfd}`);
  } catch {
    return false;
  }
  for (const match of info.matchAll(/^tfd:\s+(\d+)/gm)) {
    if (link(pid, Number(match[1])) === pipe) return true;
  }
  return false;
}

function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
  return kib * 1024;
}

/**
 * Checks that host `pid` is idle: see the module documentation. `workers` are the creation
 * numbers of the host's workers from its `ready`: the one that owns the pipe, then its spare.
 */
export function checkHost(pid: number, workers: readonly number[]): HostCheck {
  let threads: Thread[];
  let stdin: string | undefined;
  try {
    threads = readThreads(pid);
    stdin = link(pid, 0);
  } catch (error) {
    return { type: "unsafe", why: `cannot inspect the process: ${error}` };
  }
  if (stdin === undefined || !stdin.startsWith("pipe:")) {
    return { type: "unsafe", why: "its stdin is not the server's pipe" };
  }
  const [reader, spare] = workers;
  let owner: Thread | undefined;
  const seen = new Set<number>();
  for (const thread of threads) {
    if (!thread.comm.startsWith("worker-")) continue;
    const number = Number(thread.comm.slice("worker-".length));
    // A thread a worker just started carries its name until it names itself.
    if (seen.has(number)) return { type: "busy", why: `two threads are named ${thread.comm}` };
    seen.add(number);
    if (number === reader) owner = thread;
    else if (number !== spare) {
      return { type: "busy", why: `worker thread ${thread.comm} is still there` };
    }
  }
  if (owner === undefined) return { type: "unsafe", why: `its worker ${reader} is gone` };
  const reads = READS[ARCH]!;
  const epollWaits = EPOLL_WAITS[ARCH]!;
  for (const thread of threads) {
    if (thread === owner) continue;
    // The host's own threads: its main thread and those it named (`deno` until a thread names
    // itself), V8's platform workers, and its workers. Anything else (the blocking-pool threads
    // of every runtime, a program's reads among them) must be asleep and read nothing.
    const trusted = thread.tid === pid || thread.comm === "deno" ||
      thread.comm.startsWith("V8 ") || thread.comm.startsWith("worker-");
    if (thread.syscall === undefined) {
      if (trusted) continue;
      return { type: "busy", why: `thread ${thread.tid} (${thread.comm}) is running` };
    }
    const { nr, arg0 } = thread.syscall;
    if (reads.has(nr)) {
      const target = link(pid, arg0);
      // A read on a descriptor closed since still reads the file it was started on.
      if (!trusted || target === undefined || target === stdin) {
        return {
          type: "unsafe",
          why: `thread ${thread.tid} (${thread.comm}) reads ${target ?? `closed fd ${arg0}`}`,
        };
      }
    }
    if (epollWaits.has(nr) && epollWatches(pid, arg0, stdin)) {
      return { type: "unsafe", why: `thread ${thread.tid} (${thread.comm}) polls stdin` };
    }
  }
  return { type: "idle", rssBytes: rssBytes(pid) };
}
