/**
 * A trivial execution (`console.log(1)`) through the client, taken from the warm pool.
 *
 * Two regimes: "pool warm" waits (untimed) until the pool is full before each execution, as an
 * agent that runs a program now and then sees it; "back to back" starts the next execution as
 * soon as the previous one ended, so the pool drains and executions wait for sandboxes to spawn
 * (throughput bound by spawn time, not latency). Two same-run references: a bare Deno SSE
 * request that answers one terminal frame (the HTTP floor), and the sandbox alone (run message
 * in, success out, no HTTP) to show where the time goes.
 *
 * @module
 */
import type { BenchContext, BenchModule, Section, Table } from "./_types.ts";
import { echoRun, startEchoServer } from "./echo_baseline.ts";
import { startBenchServer } from "./_server.ts";
import { ms, ratio, sleep, summarize, type Summary } from "./_stats.ts";
import { sandboxRun } from "./_sandbox_alone.ts";
import { type Hop, hopDurations, startProbe } from "./_probe.ts";
import type { ProgtcClient } from "../client/mod.ts";

const TARGET_P50_MS = 15;
const HOPS: Hop[] = [
  ["client: executeCode() → POST sent", "client.start", 0, "execute-code.sent", 0],
  ["http in: POST sent → handler entered", "execute-code.sent", 0, "execute-code.in", 0],
  ["server: handler entered → auth starts", "execute-code.in", 0, "execute-code.authStart", 0],
  ["server: auth (key check, synchronous)", "execute-code.authStart", 0, "execute-code.authEnd", 0],
  ["server: body read, JSON parsed", "execute-code.authEnd", 0, "execute-code.parsed", 0],
  [
    "server: schema, sandbox from pool, tools lexer, run sent",
    "execute-code.parsed",
    0,
    "sandbox.run",
    0,
  ],
  ["sandbox: run sent → output line parsed", "sandbox.run", 0, "sandbox.event.output", 0],
  ["sandbox: output → success line parsed", "sandbox.event.output", 0, "sandbox.event.success", 0],
  ["relay: success → terminal frame enqueued", "sandbox.event.success", 0, "sse.success", 0],
  ["sse out: terminal frame → client has the result", "sse.success", 0, "client.end", 0],
];
const CODE = "console.log(1)";

async function trivial(client: ProgtcClient): Promise<number> {
  const started = performance.now();
  const result = await client.executeCode({ code: CODE, tools: {} });
  const elapsed = performance.now() - started;
  if (result.type !== "success" || result.stdout !== "1\n") {
    throw new Error(`Trivial execution failed: ${JSON.stringify(result)}`);
  }
  return elapsed;
}

function row(label: string, s: Summary): string[] {
  return [label, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), `${s.n}`];
}

async function run(ctx: BenchContext): Promise<Section> {
  const n = ctx.n(120, 20);
  const warmup = 10;
  await using echo = await startEchoServer();
  await using progtc = await startBenchServer();
  const runner = progtc.server.app.runner;

  ctx.log(`trivial_execution: ${warmup} warm-up + ${n} pool-warm runs (with references)`);
  const warm: number[] = [];
  const http: number[] = [];
  const alone: number[] = [];
  const aloneAcquire: number[] = [];
  const aloneSettled: number[] = [];
  for (let i = -warmup; i < n; i++) {
    await progtc.warm();
    const t = await trivial(progtc.client);
    const h = (await echoRun(echo.url, 0)).total;
    await progtc.warm();
    const a = await sandboxRun(runner, CODE);
    await progtc.warm();
    // The same, once the replacement sandbox the pool started has finished booting.
    const settled = await sandboxRun(runner, CODE, () => progtc.warm().then(() => sleep(20)));
    if (i < 0) continue;
    warm.push(t);
    http.push(h);
    alone.push(a.runMs);
    aloneAcquire.push(a.acquireMs);
    aloneSettled.push(settled.runMs);
  }

  ctx.log(`trivial_execution: ${n} back-to-back runs`);
  await progtc.warm();
  const backToBack: number[] = [];
  for (let i = 0; i < n; i++) backToBack.push(await trivial(progtc.client));

  const hops = await breakdown(ctx, Math.max(10, Math.round(n / 4)));
  const w = summarize(warm);
  const h = summarize(http);
  const a = summarize(alone);
  const aa = summarize(aloneAcquire);
  const as = summarize(aloneSettled);
  const b = summarize(backToBack);
  return {
    title: "Trivial execution",
    description: `\`${CODE}\` through \`ProgtcClient\` against a real server with the default ` +
      `pool of 2 warm sandboxes: from \`executeCode()\` to its result. ${warmup} warm-up runs ` +
      `are discarded.`,
    tables: [{
      head: ["", "p50 ms", "p90 ms", "p99 ms", "max ms", "runs"],
      rows: [
        row("progtc, pool warm before each run", w),
        row("progtc, back to back (pool drains)", b),
        row("reference: bare Deno SSE request, 1 frame", h),
        row("sandbox alone (no HTTP): take from pool", aa),
        row("sandbox alone: run → success, replacement booting", a),
        row("sandbox alone: run → success, replacement booted", as),
        [
          "progtc (pool warm) / bare SSE request",
          ratio(w.p50 / h.p50),
          ratio(w.p90 / h.p90),
          "",
          "",
          "",
        ],
      ],
    }, hops.table],
    notes: [
      `"Back to back" is bounded by how fast the pool refills (a sandbox spawn), not by the ` +
      `execution: with 2 warm sandboxes and 2 background spawns, a steady stream of executions ` +
      `waits for spawns. Its p50 is ${ratio(b.p50 / w.p50)} the pool-warm p50.`,
      `The sandbox alone (no HTTP: take it from the pool, send the run message, the worker ` +
      `imports and runs the TypeScript blob, output and success come back) takes ` +
      `${ms(aa.p50 + a.p50)} ms of the ${ms(w.p50)} ms p50. Taking a sandbox from the pool ` +
      `starts a replacement, and that new Deno process boots on the same cores while the ` +
      `program runs: the run takes ${ms(a.p50)} ms (p50) then, and ${ms(as.p50)} ms once the ` +
      `replacement has booted (${ratio(a.p50 / as.p50)}).`,
      `In the instrumented runs, the sandbox's part from the run message to the program's ` +
      `output line is ${(hops.importShare * 100).toFixed(0)}% of the time (the worker imports ` +
      "the program's blob module; JavaScript and TypeScript cost the same, so it is not the " +
      "transpiler). Taking a sandbox starts its replacement; the synchronous part of that " +
      `spawn blocks the server's thread for ${ms(hops.spawn.p50)} ms (p50, p90 ` +
      `${ms(hops.spawn.p90)}), ` +
      (hops.spawnAfterRun === 1
        ? "always after the run message was written (the pool defers it)."
        : `before the run message was written in ${
          ((1 - hops.spawnAfterRun) * 100).toFixed(0)
        }% of the executions.`),
    ],
    checks: [{
      what: "trivial execution p50 (pool warm)",
      target: `≤ ${TARGET_P50_MS} ms`,
      measured: `${ms(w.p50)} ms`,
      met: w.p50 <= TARGET_P50_MS,
    }],
  };
}

/** Where a pool-warm trivial execution's time goes: `runs` instrumented executions. */
async function breakdown(
  ctx: BenchContext,
  runs: number,
): Promise<{ table: Table; spawn: Summary; spawnAfterRun: number; importShare: number }> {
  ctx.log(`trivial_execution: ${runs} instrumented runs`);
  await using probe = await startProbe();
  for (let i = -3; i < runs; i++) {
    await probe.runner.warm();
    if (i === 0) probe.clear();
    probe.mark("client.start");
    await trivial(probe.client);
    probe.mark("client.end");
  }
  const total = summarize(probe.get("client.end").map((t, i) => t - probe.get("client.start")[i]!));
  const durations = hopDurations(probe, HOPS, runs);
  const starts = probe.get("pool.spawnStart");
  const spawns = summarize(probe.get("pool.spawnReturned").map((t, i) => t - starts[i]!));
  const runMarks = probe.get("sandbox.run");
  const spawnAfterRun = starts.filter((t, i) => t > (runMarks[i] ?? Infinity)).length /
    starts.length;
  const share = (s: Summary) => `${((s.mean / total.mean) * 100).toFixed(0)}%`;
  const rows = HOPS.map(([label], h) => {
    const s = summarize(durations[h]!);
    return [label, ms(s.p50), ms(s.p90), ms(s.mean), share(s)];
  });
  rows.splice(6, 0, [
    "  meanwhile: the pool's replacement spawn blocks the server's thread (not in the sum)",
    ms(spawns.p50),
    ms(spawns.p90),
    ms(spawns.mean),
    "",
  ]);
  const table: Table = {
    head: [
      "where the time goes (pool warm, instrumented)",
      "p50 ms",
      "p90 ms",
      "mean ms",
      "share of mean",
    ],
    rows: [
      ...rows,
      ["**whole execution (instrumented)**", ms(total.p50), ms(total.p90), ms(total.mean), "100%"],
    ],
  };
  return {
    table,
    spawn: spawns,
    spawnAfterRun,
    importShare: summarize(durations[6]!).mean / total.mean,
  };
}

/** The trivial-execution benchmark. */
export const trivialExecution: BenchModule = { name: "trivial_execution", run };
