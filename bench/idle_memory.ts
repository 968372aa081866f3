/**
 * Memory of an idle server: RSS of each warm sandbox process in the pool and of the server
 * process, measured in a server process of its own (`_server_process.ts`, default options), once
 * right after start and once after a few executions (pool refilled). Same-run references: a bare
 * idle Deno process, and one holding an idle worker (what a sandbox is made of).
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { childrenOf, commandLine, type ProcessMemory, processMemory } from "./_proc.ts";
import { mib, ratio, sleep } from "./_stats.ts";
import { readLines } from "../runner/lines.ts";
import { ProgtcClient } from "../client/mod.ts";
import { BENCH_API_KEY } from "./_server.ts";

const here = (file: string) => new URL(file, import.meta.url).pathname;

/** A child process that prints one line when ready, and the lines after that on request. */
interface Helper extends AsyncDisposable {
  pid: number;
  next(): Promise<string>;
  ask(): Promise<string>;
}

function startHelper(args: string[]): Helper {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: here(".."),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout);
  const writer = child.stdin.getWriter();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`Helper ${args.join(" ")} ended early`);
    return value;
  };
  return {
    pid: child.pid,
    next,
    ask: async () => {
      await writer.write(new TextEncoder().encode("\n"));
      return await next();
    },
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await lines.return(undefined);
    },
  };
}

async function sandboxes(serverPid: number): Promise<ProcessMemory[]> {
  const out: ProcessMemory[] = [];
  for (const pid of await childrenOf(serverPid)) {
    if (!(await commandLine(pid)).includes(".progtc.invalid")) continue;
    const memory = await processMemory(pid);
    if (memory) out.push(memory);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

async function reference(args: string[]): Promise<ProcessMemory> {
  await using helper = startHelper(["run", "--quiet", "--no-config", ...args]);
  await helper.next();
  await sleep(200);
  const memory = await processMemory(helper.pid);
  if (!memory) throw new Error("Reference process vanished");
  return memory;
}

async function exercise(url: string, executions: number): Promise<void> {
  const client = new ProgtcClient({ baseUrl: url, apiKey: BENCH_API_KEY });
  for (let i = 0; i < executions; i++) {
    const result = await client.executeCode({
      code: `import { echo } from "tools";\nfor (let i = 0; i < 10; i++) await echo(i);\n` +
        `console.log("x".repeat(1000));`,
      tools: { echo: (i: number) => ({ i, pad: "y".repeat(100) }) },
    });
    if (result.type !== "success") throw new Error(`Execution failed: ${result.type}`);
  }
}

interface Point {
  when: string;
  server: ProcessMemory;
  sandboxes: ProcessMemory[];
  /** `Deno.memoryUsage()` as the server process reported it. */
  rss: number;
  heapUsed: number;
}

async function measure(
  pid: number,
  report: { rss: number; heapUsed: number },
  when: string,
): Promise<Point> {
  const server = await processMemory(pid);
  if (!server) throw new Error("Server process vanished");
  return { when, server, sandboxes: await sandboxes(pid), ...report };
}

const row = (label: string, m: ProcessMemory, base?: ProcessMemory) => [
  label,
  mib(m.rss),
  mib(m.anon),
  mib(m.pss),
  base ? ratio(m.rss / base.rss) : "",
];

async function run(ctx: BenchContext): Promise<Section> {
  const executions = ctx.n(40, 10);
  const bare = await reference([here("_idle_process.ts")]);
  const withWorker = await reference([here("_idle_process.ts"), "worker"]);

  ctx.log("idle_memory: server process with the default pool");
  await using server = startHelper([
    "run",
    "--quiet",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-run",
    here("_server_process.ts"),
    BENCH_API_KEY,
  ]);
  type Report = { url: string; rss: number; heapUsed: number };
  const first = JSON.parse(await server.next()) as Report;
  const points: Point[] = [await measure(server.pid, first, "at start")];
  for (let round = 1; round <= 2; round++) {
    ctx.log(`idle_memory: ${executions} executions, then measure again`);
    await exercise(first.url, executions);
    const report = JSON.parse(await server.ask()) as Report;
    points.push(await measure(server.pid, report, `after ${round * executions} executions`));
  }

  const rows = [
    ...points.flatMap((p) =>
      p.sandboxes.map((m, i) => row(`idle sandbox ${i + 1} (pid ${m.pid}), ${p.when}`, m, bare))
    ),
    ...points.map((p) => row(`server process, ${p.when}`, p.server, bare)),
    row("reference: bare idle Deno process", bare),
    row("reference: idle Deno process with one worker", withWorker, bare),
  ];
  const start = points[0]!;
  const total = start.server.pss + start.sandboxes.reduce((sum, m) => sum + m.pss, 0);
  return {
    title: "Idle memory",
    description: "A server started with the default options (pool of 2) in its own process, " +
      "measured from /proc once warm, then twice more, each time after " +
      `${executions} more executions (10 tool calls and 1 KB of output each) and once the pool ` +
      "had refilled. Sandboxes are the server's child processes (prlimit execs deno, so the pid " +
      "is the Deno process).",
    tables: [{
      head: ["process", "RSS MiB", "anon MiB", "PSS MiB", "RSS / bare Deno"],
      rows,
    }],
    notes: [
      "RSS counts shared pages (the Deno binary's code) in full in every process; anon is the " +
      "process's own memory; PSS splits shared pages among the processes that share them, so " +
      "the PSS of the server and its sandboxes adds up to what they really cost together: " +
      `${mib(total)} MiB for the idle server and ${start.sandboxes.length} sandboxes.`,
      "`Deno.memoryUsage()` inside the server process: " +
      points.map((p) => `${p.when} rss ${mib(p.rss)} MiB, V8 heap used ${mib(p.heapUsed)} MiB`)
        .join("; ") +
      ".",
    ],
    checks: [],
  };
}

/** The idle-memory benchmark. */
export const idleMemory: BenchModule = { name: "idle_memory", run };
