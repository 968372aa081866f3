/**
 * Shared helpers of the bench: statistics and number formatting, markdown tables, and Linux
 * /proc readers (CPU time and memory of a process tree, load, the machine). Nothing here knows
 * about progtc.
 *
 * Deno asks for `--allow-all` to read /proc, so the bench runs with `-A`.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

/** The `p`-th percentile (0–100), linearly interpolated between closest ranks (numpy's default). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const low = sorted[Math.floor(rank)]!;
  const high = sorted[Math.ceil(rank)]!;
  return low + (high - low) * (rank - Math.floor(rank));
}

/** Median of `samples`. */
export const median = (samples: readonly number[]): number => percentile(samples, 50);

/** Arithmetic mean (NaN for none). */
export function mean(samples: readonly number[]): number {
  return samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : NaN;
}

/** Milliseconds with a precision that suits the size: `0.412`, `3.21`, `42.1`, `1234`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  return value.toFixed(abs < 1 ? 3 : abs < 10 ? 2 : abs < 1000 ? 1 : 0);
}

/** A ratio as `1.23×`. */
export const ratio = (value: number): string =>
  Number.isFinite(value) ? `${value.toFixed(2)}×` : "–";

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): string =>
  Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(1) : "–";

/** A rate (per second) with one decimal, or none from 100 on. */
export const rate = (value: number): string =>
  Number.isFinite(value) ? value.toFixed(value < 100 ? 1 : 0) : "–";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A deterministic pseudo-random generator in [0, 1) (mulberry32), so runs compare. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown

/** A markdown table of formatted cells; the first column is left-aligned, the others right. */
export interface Table {
  head: string[];
  rows: string[][];
  /** Columns (by index) to align left besides the first. */
  left?: number[];
}

/** Renders `table` with aligned columns, readable as plain text too. */
export function renderTable(table: Table): string {
  const rows = [table.head, ...table.rows];
  const width = (c: number) => Math.max(3, ...rows.map((row) => [...(row[c] ?? "")].length));
  const widths = table.head.map((_, c) => width(c));
  const isLeft = (c: number) => c === 0 || (table.left ?? []).includes(c);
  const line = (row: string[]) =>
    `| ${widths.map((w, c) => (row[c] ?? "").padEnd(w)).join(" | ")} |`;
  const rule = `|${
    widths.map((w, c) => isLeft(c) ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`).join("|")
  }|`;
  return [line(table.head), rule, ...table.rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------
// /proc

const decoder = new TextDecoder();

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined; // gone, or not Linux
  }
}

/** Runs a command; its stdout, or undefined when it fails. */
export async function output(command: string, args: string[], cwd?: string) {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
      ...(cwd ? { cwd } : {}),
    }).output();
    return out.success ? decoder.decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, else 100). */
export let clockTicks = 100;
/** Whether {@linkcode clockTicks} came from `getconf` (true) or is the assumed 100. */
export let clockTicksMeasured = false;
{
  const value = Number(await output("getconf", ["CLK_TCK"]));
  if (Number.isInteger(value) && value > 0) [clockTicks, clockTicksMeasured] = [value, true];
}

/** Fields of /proc/<pid>/stat that the bench uses (CPU times in ticks). */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** Start time in ticks since boot: with the pid, identifies a process across pid reuse. */
  start: number;
  utime: number;
  stime: number;
  /** CPU time of reaped children (their own and their reaped children's). */
  cutime: number;
  cstime: number;
}

function parseStat(text: string): ProcStat | undefined {
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split at the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(" ");
  return {
    pid: Number.parseInt(text),
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
    start: Number(f[19]),
  };
}

/** /proc/<pid>/stat, or undefined when the process is gone. */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readText(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

/** `root` and all its living descendants (root first); empty when root is gone. */
export async function processTree(root: number): Promise<ProcStat[]> {
  const all: ProcStat[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await procStat(Number(entry.name));
    if (stat) all.push(stat);
  }
  const byParent = new Map<number, ProcStat[]>();
  for (const s of all) byParent.set(s.ppid, [...byParent.get(s.ppid) ?? [], s]);
  const rootStat = all.find((s) => s.pid === root);
  if (!rootStat) return [];
  const out = [rootStat];
  for (let i = 0; i < out.length; i++) out.push(...byParent.get(out[i]!.pid) ?? []);
  return out;
}

/** CPU time of a process tree, in ms. */
export interface TreeCpu {
  /** The root process's own user + system time. */
  own: number;
  /** Every descendant's: living ones (their own and reaped children) and reaped ones. */
  descendants: number;
  total: number;
  /** Living processes in the tree, root included. */
  processes: number;
}

/**
 * CPU time of `root` and all its descendants: utime + stime of every living process in the
 * tree, plus cutime + cstime (children already reaped) of each. The difference of two samples
 * is the CPU the tree used in between, whether its children lived briefly or throughout.
 */
export async function treeCpu(root: number): Promise<TreeCpu> {
  const tree = await processTree(root);
  if (tree.length === 0) throw new Error(`Process ${root} is gone`);
  const toMs = (ticks: number) => (ticks * 1000) / clockTicks;
  const [r, ...rest] = tree;
  const own = toMs(r!.utime + r!.stime);
  const descendants = toMs(
    r!.cutime + r!.cstime + rest.reduce((s, p) => s + p.utime + p.stime + p.cutime + p.cstime, 0),
  );
  return { own, descendants, total: own + descendants, processes: tree.length };
}

/** CPU time of the bench process itself (the client), in ms. */
export async function selfCpu(): Promise<number> {
  const s = await procStat(Deno.pid);
  return s ? ((s.utime + s.stime) * 1000) / clockTicks : NaN;
}

/** The whole machine's busy and total CPU time (ticks, all cores) from /proc/stat. */
export async function systemCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readText("/proc/stat"))?.split("\n")[0] ?? "";
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1)
    .map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** Memory of one process, in bytes. */
export interface ProcessMemory {
  pid: number;
  /** Resident set size: shared pages counted in full. */
  rss: number;
  /** Proportional set size: shared pages split among the processes that share them. */
  pss: number;
  /** The command line, arguments joined by spaces. */
  command: string;
}

/** RSS and PSS (from smaps_rollup) of `pid`, or undefined when it is gone. */
export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  const rollup = await readText(`/proc/${pid}/smaps_rollup`);
  if (rollup === undefined) return undefined;
  const kb = (field: string) =>
    Number(rollup.match(new RegExp(`^${field}:\\s*(\\d+) kB`, "m"))?.[1] ?? NaN) * 1024;
  const command = (await readText(`/proc/${pid}/cmdline`))?.split("\0").join(" ").trim() ?? "";
  return { pid, rss: kb("Rss"), pss: kb("Pss"), command };
}

/** Memory of a process tree: each process (root first) and the PSS and RSS sums. */
export async function treeMemory(root: number) {
  const processes: ProcessMemory[] = [];
  for (const { pid } of await processTree(root)) {
    const memory = await processMemory(pid);
    if (memory) processes.push(memory);
  }
  const sum = (f: (m: ProcessMemory) => number) => processes.reduce((s, m) => s + f(m), 0);
  return { processes, pss: sum((m) => m.pss), rss: sum((m) => m.rss) };
}

/** The 1, 5 and 15 minute load averages. */
export async function loadavg(): Promise<string> {
  return (await readText("/proc/loadavg"))?.split(" ").slice(0, 3).join(" ") ?? "unknown";
}

/** Where and on what the benchmarks ran, as header rows. */
export async function describeMachine(root: string): Promise<[string, string][]> {
  const cpuinfo = await readText("/proc/cpuinfo") ?? "";
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown CPU";
  const cores = cpuinfo.match(/^processor\s*:/gm)?.length ?? navigator.hardwareConcurrency;
  const memKb = Number((await readText("/proc/meminfo"))?.match(/^MemTotal:\s*(\d+)/m)?.[1]);
  const os = (await readText("/etc/os-release"))?.match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1];
  const kernel = (await readText("/proc/sys/kernel/osrelease"))?.trim();
  const head = await output("git", ["rev-parse", "--short", "HEAD"], root);
  const dirty = await output("git", ["status", "--porcelain", "--untracked-files=no"], root);
  // Porcelain lines are `XY path`; the output may have lost its first line's leading space.
  // The report itself (which this run overwrites) is not part of what is measured.
  const changed = (dirty ? dirty.split("\n").map((l) => l.replace(/^\s*\S{1,2}\s+/, "")) : [])
    .filter((path) => path !== "BENCHMARKS.md");
  const commit = head === undefined
    ? `unknown (${root})`
    : changed.length
    ? `${head} with uncommitted changes to ${changed.slice(0, 8).join(", ")}` +
      (changed.length > 8 ? ", …" : "")
    : head;
  return [
    ["machine", `${cpu}, ${cores} cores, ${(memKb / 1024 / 1024).toFixed(1)} GiB RAM`],
    ["OS", [os ?? Deno.build.os, kernel && `kernel ${kernel}`, Deno.build.arch].join(", ")],
    ["Deno", `${Deno.version.deno} (V8 ${Deno.version.v8})`],
    ["commit measured", commit],
    [
      "CPU clock ticks",
      `${clockTicks} per second (${clockTicksMeasured ? "getconf CLK_TCK" : "assumed"})`,
    ],
  ];
}
