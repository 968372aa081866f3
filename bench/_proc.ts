/**
 * Process facts from Linux /proc: children of a process and their memory.
 *
 * @module
 */

/** Memory of one process, in bytes. */
export interface ProcessMemory {
  pid: number;
  /** Resident set size (VmRSS): everything mapped and resident, shared pages included. */
  rss: number;
  /** Anonymous resident memory (RssAnon): the process's own heap and stacks. */
  anon: number;
  /** Proportional set size: shared pages divided among the processes sharing them. */
  pss: number;
}

const decoder = new TextDecoder();

function cat(paths: string[]): Promise<string | undefined> {
  return shell(`cat ${paths.join(" ")} 2>/dev/null`);
}

async function shell(command: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", command],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = decoder.decode(out.stdout);
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * Reads a /proc or /sys file. Deno asks for `--allow-all` to read /proc even with
 * `--allow-read`; without it, `cat` reads the file (`--allow-run` is granted to the bench).
 */
export async function readSystemFile(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) return undefined;
    return await cat([path.replaceAll(/[^\w/.-]/g, "")]);
  }
}

const read = readSystemFile;

function kb(text: string | undefined, field: string): number {
  const match = text?.match(new RegExp(`^${field}:\\s*(\\d+) kB`, "m"));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The memory of `pid`, or undefined when it is gone. */
export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  const status = await read(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  const rollup = await read(`/proc/${pid}/smaps_rollup`);
  return { pid, rss: kb(status, "VmRSS"), anon: kb(status, "RssAnon"), pss: kb(rollup, "Pss") };
}

/** Pids whose parent is `ppid`. */
export async function childrenOf(ppid: number): Promise<number[]> {
  const stats = await cat(["/proc/[0-9]*/stat"]) ?? "";
  const pids: number[] = [];
  for (const stat of stats.split("\n")) {
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses: split at the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === ppid) pids.push(Number.parseInt(stat));
  }
  return pids;
}

/** The command line of `pid`, arguments joined by spaces. */
export async function commandLine(pid: number): Promise<string> {
  return (await read(`/proc/${pid}/cmdline`))?.split("\0").join(" ").trim() ?? "";
}

/** Open file descriptors of a process, by kind. */
export interface FdCounts {
  total: number;
  sockets: number;
  pipes: number;
}

/** The open file descriptors of `pid` (all NaN when it is gone). */
export async function fdCounts(pid: number): Promise<FdCounts> {
  const out = await shell(`ls -l /proc/${Math.trunc(pid)}/fd 2>/dev/null`) ?? "";
  const targets = out.split("\n").filter((line) => line.includes(" -> "));
  if (targets.length === 0) return { total: NaN, sockets: NaN, pipes: NaN };
  return {
    total: targets.length,
    sockets: targets.filter((line) => line.includes("socket:")).length,
    pipes: targets.filter((line) => line.includes("pipe:")).length,
  };
}
