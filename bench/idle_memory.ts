/**
 * Memory of an idle server: RSS of each warm sandbox process in the pool and of the server
 * process, measured in a server process of its own (`_server_process.ts`, default options), once
 * right after start and twice after a few executions (pool refilled, collector run). Same-run
 * references: a bare idle Deno process, and one holding an idle worker (what a sandbox is made
 * of).
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { childrenOf, commandLine, type ProcessMemory, processMemory } from "./_proc.ts";
import { mib, ratio, sleep } from "./_stats.ts";
import { BENCH_DIR, startHelper } from "./_helper_process.ts";
import { startRemoteServer } from "./_remote_server.ts";
import type { ProgtcClient } from "../client/mod.ts";

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
  await using helper = startHelper(["run", "--quiet", "--no-config", ...args], { graceMs: 1000 });
  await helper.next();
  await sleep(200);
  const memory = await processMemory(helper.pid);
  if (!memory) throw new Error("Reference process vanished");
  return memory;
}

async function exercise(client: ProgtcClient, executions: number): Promise<void> {
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
  const bare = await reference([`${BENCH_DIR}_idle_process.ts`]);
  const withWorker = await reference([`${BENCH_DIR}_idle_process.ts`, "worker"]);

  ctx.log("idle_memory: server process with the default pool");
  await using server = await startRemoteServer({}, { exposeGc: true });
  const settled = async () => {
    await server.warm();
    return await server.gc();
  };
  const points: Point[] = [await measure(server.pid, await settled(), "at start")];
  for (let round = 1; round <= 2; round++) {
    ctx.log(`idle_memory: ${executions} executions, then measure again`);
    await exercise(server.client, executions);
    points.push(
      await measure(server.pid, await settled(), `after ${round * executions} executions`),
    );
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
      `${executions} more executions (10 tool calls and 1 KB of output each), once the pool ` +
      "had refilled and the collector had run. Sandboxes are the server's child processes " +
      "(prlimit execs deno, so the pid is the Deno process).",
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
