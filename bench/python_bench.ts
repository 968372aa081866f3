/**
 * Python (Pyodide) sandboxes: snapshot build time, spawn to ready from the snapshot (and the CPU
 * it costs), a trivial execution from the warm pool through the client, the per-tool-call
 * overhead, and the memory of a warm Python sandbox.
 *
 * Section `python` of `deno task bench`; also runs alone: `deno run -A bench/python_bench.ts
 * [--quick]`.
 *
 * @module
 */
import { preparePython } from "../runner/python.ts";
import { runMessage, Runner } from "../runner/runner.ts";
import { childrenOf, commandLine, processMemory, readSystemFile } from "./_proc.ts";
import { mib, ms, sleep, summarize, type Summary } from "./_stats.ts";
import { gaps } from "./echo_baseline.ts";
import { startBenchServer } from "./_server.ts";
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import type { ProgtcClient } from "../client/mod.ts";

const TARGET_P50_MS = 60;
const LIMITS = { maxOutputBytes: 1 << 20, maxToolArgsBytes: 1 << 20, reportIdle: false };

function row(label: string, s: Summary, unit = ms): string[] {
  return [label, unit(s.p50), unit(s.p90), unit(s.max), `${s.n}`];
}

/** Builds the snapshot into a throwaway cache directory: the cost of a first start. */
async function snapshotBuild(): Promise<number> {
  const cacheDir = await Deno.makeTempDir({ prefix: "progtc-bench-python-" });
  try {
    return (await preparePython({ cacheDir })).buildMs;
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
}

/** CPU time (user + system) `pid` has used, in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readSystemFile(`/proc/${pid}/stat`) ?? "";
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Spawns `n` Python sandboxes one after another through a runner with no pool (every acquire
 * spawns, as the server does when its pool is empty); the time to ready and the CPU it took.
 */
async function coldStarts(n: number): Promise<{ ready: number[]; cpu: number[] }> {
  const runner = await Runner.create({ poolSize: 0, pythonPoolSize: 0 });
  const ready: number[] = [];
  const cpu: number[] = [];
  try {
    // The first acquire also loads the snapshot's entry from the cache: not timed.
    for (let i = -1; i < n; i++) {
      const started = performance.now();
      const sandbox = await runner.acquire("python");
      const elapsed = performance.now() - started;
      const used = await cpuMs(sandbox.pid);
      sandbox.kill();
      await sandbox.exited;
      if (i >= 0) ready.push(elapsed), cpu.push(used);
    }
  } finally {
    runner.close();
  }
  return { ready, cpu };
}

async function execute(client: ProgtcClient, code: string): Promise<number> {
  const started = performance.now();
  const result = await client.executeCode({ code, tools: {}, language: "python" });
  const elapsed = performance.now() - started;
  if (result.type !== "success" || result.stdout !== "1\n") {
    throw new Error(`Python execution failed: ${JSON.stringify(result)}`);
  }
  return elapsed;
}

/**
 * One execution of `calls` sequential echo calls through the client. The first call waits
 * until the pool has replaced the sandbox (the replacement boots for most of a second on the
 * same cores); the gaps between the later calls are returned.
 */
async function toolCallGaps(
  client: ProgtcClient,
  calls: number,
  settle: () => Promise<void>,
): Promise<number[]> {
  const stamps: number[] = [];
  const result = await client.executeCode({
    code: `from tools import echo\nfor i in range(${calls}):\n    x = await echo(i)\nprint(x)\n`,
    tools: {
      echo: async (x: number) => {
        stamps.push(performance.now());
        if (x === 0) await settle();
        return x;
      },
    },
    language: "python",
  });
  if (result.type !== "success" || result.stdout !== `${calls - 1}\n`) {
    throw new Error(`Python tool-call run failed: ${JSON.stringify(result).slice(0, 300)}`);
  }
  return gaps(stamps.slice(1));
}

/** Sequential echo calls in one sandbox, without HTTP: the time of each round trip. */
async function sandboxToolCalls(
  runner: Runner,
  calls: number,
): Promise<number[]> {
  const sandbox = await runner.acquire("python");
  const times: number[] = [];
  let sent = 0;
  const done = Promise.withResolvers<void>();
  sandbox.listen((event) => {
    if (event.type === "tool_call") {
      if (sent) times.push(performance.now() - sent);
      sent = performance.now();
      sandbox.send({ type: "tool_result", id: event.id, value: event.args[0] ?? null });
    } else if (event.type === "success") done.resolve();
    else if (event.type !== "output") done.reject(new Error(`Sandbox run: ${event.type}`));
  });
  const code = `from tools import echo\nfor i in range(${calls}):\n    await echo(i)\n`;
  sandbox.send(runMessage("python", code, ["echo"], LIMITS));
  try {
    await done.promise;
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
  return times;
}

async function run(ctx: BenchContext): Promise<Section> {
  // A first start builds the snapshot (seconds); quick runs skip it.
  let buildMs = NaN;
  if (ctx.scale >= 1) {
    ctx.log("python: snapshot build (throwaway cache)");
    buildMs = await snapshotBuild();
  }

  const starts = ctx.n(5, 2);
  ctx.log(`python: ${starts} cold starts from the snapshot`);
  const cold = await coldStarts(starts);

  await using progtc = await startBenchServer({ pythonPoolSize: 1, poolSize: 0 });
  const runner = progtc.server.app.runner;
  const sandboxPid = async () => {
    for (const pid of await childrenOf(Deno.pid)) {
      if ((await commandLine(pid)).includes(".entry.js")) return pid;
    }
    return undefined;
  };
  await progtc.warm();
  await sleep(500);
  const pid = await sandboxPid();
  const memory = pid === undefined ? undefined : await processMemory(pid);

  const n = ctx.n(20, 5);
  const callRuns = ctx.n(4, 1);
  const calls = 100;
  ctx.log(`python: ${n} trivial executions, ${callRuns} with ${calls} tool calls, pool warm`);
  const trivial: number[] = [];
  for (let i = -2; i < n; i++) {
    await progtc.warm();
    const t = await execute(progtc.client, "print(1)");
    if (i >= 0) trivial.push(t);
  }
  const callGaps: number[] = [];
  for (let i = -1; i < callRuns; i++) {
    await progtc.warm();
    const g = await toolCallGaps(progtc.client, calls, () => progtc.warm());
    if (i >= 0) callGaps.push(...g);
  }
  await progtc.warm();
  const alone = await sandboxToolCalls(runner, ctx.n(300, 100));

  const t = summarize(trivial);
  const c = summarize(callGaps);
  const a = summarize(alone);
  return {
    title: "Python (Pyodide)",
    description: "Python sandboxes restored from the Pyodide memory snapshot: what a first start " +
      "costs, what a sandbox costs to start, and executions through `ProgtcClient` against a " +
      "real server (in the bench process) with one warm Python sandbox (the pool is full " +
      "before each execution).",
    tables: [{
      head: ["", "p50", "p90", "max", "n"],
      rows: [
        [
          "snapshot build (first start only), ms",
          Number.isNaN(buildMs) ? "skipped (quick run)" : ms(buildMs),
          "",
          "",
          Number.isNaN(buildMs) ? "0" : "1",
        ],
        row("cold start: spawn → ready from the snapshot, ms", summarize(cold.ready)),
        row("CPU used by a sandbox until ready, ms", summarize(cold.cpu)),
        row("trivial execution `print(1)`, pool warm, ms", t),
        row("per tool call through the client (between calls), ms", c),
        row("tool call round trip, sandbox alone (no HTTP), ms", a),
      ],
    }, {
      head: ["warm Python sandbox (idle, in the pool)", "MiB"],
      rows: memory
        ? [["RSS", mib(memory.rss)], ["anonymous RSS", mib(memory.anon)], ["PSS", mib(memory.pss)]]
        : [["(sandbox process not found)", "–"]],
    }],
    notes: [
      "Every execution gets a new sandbox process; taking one from the pool starts its " +
      "replacement, which boots (about the CPU time above) on the same cores while the " +
      "program runs. The trivial execution pays for that; the per-call figures are taken " +
      `after it (the program's first call waits until the pool is full again), over ` +
      `${callRuns} execution${
        callRuns === 1 ? "" : "s"
      } of ${calls} sequential \`await echo(i)\` calls.`,
      `Per tool call, Python through the client costs ${ms(c.p50)} ms (p50) against ` +
      `${ms(a.p50)} ms for the sandbox alone: the difference is HTTP, the server and the ` +
      "client, as for TypeScript (see the tool-call section).",
    ],
    checks: [{
      what: "Python trivial execution p50 (pool warm)",
      target: `≤ ${TARGET_P50_MS} ms`,
      measured: `${ms(t.p50)} ms`,
      met: t.p50 <= TARGET_P50_MS,
    }],
  };
}

/** The Python benchmark. */
export const pythonBench: BenchModule = { name: "python", run };

if (import.meta.main) {
  const scale = Deno.args.includes("--quick") ? 0.2 : 1;
  const ctx: BenchContext = {
    scale,
    n: (base, min = 1) => Math.max(min, Math.round(base * scale)),
    log: (message) => console.error(message),
  };
  const section = await run(ctx);
  console.log(`## ${section.title}\n\n${section.description}\n`);
  for (const table of section.tables) {
    console.log(`| ${table.head.join(" | ")} |`);
    console.log(`| ${table.head.map(() => "---").join(" | ")} |`);
    for (const r of table.rows) console.log(`| ${r.join(" | ")} |`);
    console.log();
  }
  for (const note of section.notes) console.log(`- ${note}`);
  for (const check of section.checks) {
    console.log(
      `- ${check.met ? "✅" : "❌"} ${check.what}: ${check.measured} (target ${check.target})`,
    );
  }
}
