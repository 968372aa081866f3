/**
 * Why a progtc server's memory grows under load (a diagnosis, not part of the default run:
 * `deno task bench memory_growth`). The same burst as the load test (N executions at once,
 * 10 tool calls each, answered after a random 0–50 ms delay) against fresh processes:
 * - the progtc server as `deno task serve` runs it, and with one allocator or V8 setting
 *   changed at a time (glibc malloc tunables in the environment, a V8 flag);
 * - the runner alone (the same sandboxes, pipes and protocol, no HTTP), and a bare HTTP/SSE
 *   server alone (the echo, no sandboxes), to split the growth between the two.
 * Each process also runs with `--allow-ffi` so that it can report glibc's `mallinfo2()` (bytes
 * malloc holds and bytes in use) and run `malloc_trim(0)` at the end: memory that trim gives
 * back was free, not leaked.
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { type RemoteServer, startRemoteServer, startReportingProcess } from "./_remote_server.ts";
import type { ServerReport } from "./_server_process.ts";
import { BENCH_DIR } from "./_helper_process.ts";
import { drained, faultSummary, LOAD_SERVER, loadRound } from "./load_test.ts";
import { echoRun } from "./echo_baseline.ts";
import { seededRandom } from "./_load_client.ts";
import { processMemory } from "./_proc.ts";
import { mib, sleep } from "./_stats.ts";

interface Variant {
  label: string;
  kind: "server" | "runner" | "echo";
  env?: Record<string, string>;
  v8Flags?: string[];
}

const MMAP = { MALLOC_MMAP_THRESHOLD_: "65536" };
const SEMI = ["--max-semi-space-size=2"];
const VARIANTS: Variant[] = [
  { label: "progtc server, untuned", kind: "server", env: {}, v8Flags: [] },
  {
    label: "progtc server, `MALLOC_ARENA_MAX=2`",
    kind: "server",
    env: { MALLOC_ARENA_MAX: "2" },
    v8Flags: [],
  },
  {
    label: "progtc server, `MALLOC_MMAP_THRESHOLD_=65536`",
    kind: "server",
    env: MMAP,
    v8Flags: [],
  },
  {
    label: "progtc server, `--v8-flags=--max-semi-space-size=2`",
    kind: "server",
    env: {},
    v8Flags: SEMI,
  },
  {
    label: "progtc server, both of the above (as `deno task serve` runs)",
    kind: "server",
    env: MMAP,
    v8Flags: SEMI,
  },
  { label: "runner alone (sandboxes, no HTTP)", kind: "runner" },
  { label: "HTTP/SSE alone (bare echo, no sandboxes)", kind: "echo" },
];

interface Point {
  anon: number;
  rss: number;
  report: ServerReport;
}

async function point(process: RemoteServer, settleMs: number): Promise<Point> {
  await process.warm(settleMs);
  const report = await process.gc();
  const memory = await processMemory(process.pid);
  return { anon: memory?.anon ?? NaN, rss: memory?.rss ?? NaN, report };
}

function start(variant: Variant): Promise<RemoteServer> {
  const remote = {
    exposeGc: true,
    allowFfi: true,
    ...(variant.env ? { env: variant.env } : {}),
    ...(variant.v8Flags ? { v8Flags: variant.v8Flags } : {}),
  };
  switch (variant.kind) {
    case "server":
      return startRemoteServer(LOAD_SERVER, remote);
    case "runner":
      return startReportingProcess([
        "--allow-read",
        "--allow-env",
        "--allow-run",
        `${BENCH_DIR}_runner_process.ts`,
        String(LOAD_SERVER.poolSize),
      ], remote);
    case "echo":
      return startReportingProcess(["--allow-net", `${BENCH_DIR}_echo_process.ts`], remote);
  }
}

async function burst(variant: Variant, process: RemoteServer, n: number): Promise<string> {
  const seed = 7;
  switch (variant.kind) {
    case "server": {
      const round = await loadRound(process, n, seed);
      await drained(process);
      return faultSummary(round.outcomes).faults;
    }
    case "runner":
      await process.ask(`load ${n} ${seed}`);
      return "none";
    case "echo": {
      const random = seededRandom(seed);
      using client = Deno.createHttpClient({});
      await Promise.all(
        Array.from(
          { length: n },
          () => echoRun(process.url, 10, { delayMs: () => random() * 50, client }),
        ),
      );
      return "none";
    }
  }
}

function mallocText(report: ServerReport): string {
  const m = report.malloc;
  return m ? `${mib(m.arena + m.mmapped)} / ${mib(m.inUse)}` : "–";
}

async function run(ctx: BenchContext): Promise<Section> {
  const n = ctx.n(200, 40);
  const rows: string[][] = [];
  const problems: string[] = [];
  for (const variant of VARIANTS) {
    ctx.log(`memory_growth: ${variant.label}: ${n} executions at once`);
    await using process = await start(variant);
    const idle = await point(process, 1000);
    const faults = await burst(variant, process, n);
    if (faults !== "none") problems.push(`${variant.label}: ${faults}`);
    const after = await point(process, 2000);
    await process.trim();
    const trimmed = await processMemory(process.pid);
    rows.push([
      variant.label,
      mib(idle.anon),
      mib(after.anon),
      `+${mib(after.anon - idle.anon)}`,
      mallocText(idle.report),
      mallocText(after.report),
      `${mib(idle.report.heapTotal)} → ${mib(after.report.heapTotal)}`,
      mib(trimmed?.anon ?? NaN),
    ]);
    await sleep(500);
  }
  return {
    title: "Memory growth under load (diagnosis)",
    description: `One burst of ${n} executions at once (10 tool calls each, random 0–50 ms ` +
      "tool delays) against a fresh process per row; memory read from /proc once idle (pool " +
      "full, collector run) and again after the burst (pool refilled, 2 s quiet, collector " +
      "run), then once more after `malloc_trim(0)`. Each process runs with `--allow-ffi` so " +
      "that it can report glibc's `mallinfo2()`.",
    tables: [{
      head: [
        "process",
        "anon idle MiB",
        "anon after MiB",
        "growth MiB",
        "malloc held / in use, idle MiB",
        "malloc held / in use, after MiB",
        "V8 heap total MiB",
        "anon after malloc_trim(0) MiB",
      ],
      rows,
    }],
    notes: [
      '"malloc held" is what glibc obtained from the system (`arena` + `hblkhd` of ' +
      '`mallinfo2()`); "in use" is what is allocated and not freed. Held far above in use, ' +
      "given back by `malloc_trim(0)`, is freed memory that glibc keeps (fragmentation of its " +
      "main arena); V8's heap total is what V8 keeps committed for its heap (the young " +
      "generation grows under allocation pressure and is not shrunk while the process idles). " +
      "`malloc_trim(0)` hands free pages back with `madvise`, so RSS and anon drop while " +
      '"held" (address space) stays.',
      problems.length > 0
        ? `Faults during the bursts: ${problems.join("; ")}.`
        : "Every execution of every burst ended correctly.",
    ],
    checks: [],
  };
}

/** The memory-growth diagnosis (opt-in: run it by name). */
export const memoryGrowth: BenchModule = { name: "memory_growth", run, optIn: true };
