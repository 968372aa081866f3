/**
 * Python (Pyodide) sandboxes: snapshot build time, spawn to ready from the snapshot (and the CPU
 * it costs), a trivial execution from the warm pool through the client, the per-tool-call
 * overhead, and the memory of a warm Python sandbox.
 *
 * Run alone: `deno run -A bench/python_bench.ts [--quick]`; or add {@linkcode pythonBench} to
 * `MODULES` in `main.ts`.
 *
 * @module
 */
import { preparePython } from "../runner/python.ts";
import { Sandbox, type SandboxSpawnOptions } from "../runner/sandbox.ts";
import { runMessage } from "../runner/runner.ts";
import { childrenOf, commandLine, processMemory, readSystemFile } from "./_proc.ts";
import { mib, ms, sleep, summarize, type Summary } from "./_stats.ts";
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

/** Spawns `n` Python sandboxes one after another; the time to ready and the CPU it took. */
async function coldStarts(n: number): Promise<{ ready: number[]; cpu: number[] }> {
  const entry = await preparePython();
  const env: Record<string, string> = {};
  for (const name of ["DENO_DIR", "HOME", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const prlimit = await Deno.stat("/usr/bin/prlimit").then(() => "/usr/bin/prlimit", () => null);
  const options: SandboxSpawnOptions = {
    kind: "python",
    denoPath: Deno.execPath(),
    prlimitPath: prlimit,
    heapMb: 256,
    dataMb: 2048,
    maxLineLength: 1 << 24,
    readyTimeoutMs: 30_000,
    entry,
    env,
  };
  const ready: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const sandbox = await Sandbox.spawn(options);
    ready.push(performance.now() - started);
    cpu.push(await cpuMs(sandbox.pid));
    sandbox.kill();
    await sandbox.exited;
  }
  return { ready, cpu };
}

async function execute(client: ProgtcClient, code: string, calls = 0): Promise<number> {
  const started = performance.now();
  const result = await client.executeCode({
    code,
    tools: { echo: (x: unknown) => x },
    language: "python",
  });
  const elapsed = performance.now() - started;
  const expected = calls ? `${calls - 1}\n` : "1\n";
  if (result.type !== "success" || result.stdout !== expected) {
    throw new Error(`Python execution failed: ${JSON.stringify(result)}`);
  }
  return elapsed;
}

/** Sequential echo calls in one sandbox, without HTTP: the time of each round trip. */
async function sandboxToolCalls(
  runner: import("../runner/runner.ts").Runner,
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
  ctx.log("python: snapshot build (throwaway cache)");
  const buildMs = await snapshotBuild();

  const starts = ctx.n(10, 3);
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

  const n = ctx.n(40, 10);
  const calls = 100;
  ctx.log(`python: ${n} trivial executions and ${n} with ${calls} tool calls, pool warm`);
  const trivial: number[] = [];
  const withCalls: number[] = [];
  const loop =
    `from tools import echo\nfor i in range(${calls}):\n    x = await echo(i)\nprint(x)\n`;
  for (let i = -3; i < n; i++) {
    await progtc.warm();
    const t = await execute(progtc.client, "print(1)");
    await progtc.warm();
    const c = await execute(progtc.client, loop, calls);
    if (i < 0) continue;
    trivial.push(t);
    withCalls.push(c);
  }
  await progtc.warm();
  const alone = await sandboxToolCalls(runner, ctx.n(500, 100));

  const t = summarize(trivial);
  const c = summarize(withCalls);
  const a = summarize(alone);
  const perCall = (c.p50 - t.p50) / calls;
  return {
    title: "Python (Pyodide)",
    description: "Python sandboxes restored from the Pyodide memory snapshot: what a first start " +
      "costs, what a sandbox costs to start, and executions through `ProgtcClient` against a " +
      "real server with one warm Python sandbox (the pool is full before each execution).",
    tables: [{
      head: ["", "p50", "p90", "max", "n"],
      rows: [
        ["snapshot build (first start only), ms", ms(buildMs), "", "", "1"],
        row("spawn → ready from the snapshot, ms", summarize(cold.ready)),
        row("CPU used by a sandbox until ready, ms", summarize(cold.cpu)),
        row("trivial execution `print(1)`, pool warm, ms", t),
        row(`execution with ${calls} sequential tool calls, ms`, c),
        [
          "per tool call through the client (difference of p50 / calls), ms",
          ms(perCall),
          "",
          "",
          "",
        ],
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
      "replacement, which boots (about the CPU time above) on the same cores while the program runs.",
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
