/**
 * Per-tool-call round trip: progtc against the bare Deno SSE echo, measured in the same run,
 * interleaved run by run so that both see the same machine noise.
 *
 * Primary comparison, as deployed: each server runs in a process of its own (the echo in
 * `_echo_process.ts`, progtc in `_server_process.ts` with the permissions and defaults of
 * `deno task serve`), and the client runs in the bench process. Secondary: both servers inside
 * the bench process, sharing its thread with the client (what earlier runs measured).
 *
 * A progtc run is one execution of `for (let i = 0; i < N; i++) await echo(i)` through the real
 * `ProgtcClient`. A round trip is the time between two consecutive tool calls reaching the
 * client's tool function: POST of the result, the server, the sandbox's pipes and worker, the
 * next call back out over SSE. The echo measures the same interval between two consecutive
 * events. A second estimate for progtc subtracts an execution with 0 calls: (T(N) − T(0)) / N.
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { echoRun, gaps, startEchoServer } from "./echo_baseline.ts";
import { startBenchServer } from "./_server.ts";
import { startRemoteServer } from "./_remote_server.ts";
import { BENCH_DIR, startHelper } from "./_helper_process.ts";
import { median, ms, ratio, summarize, type Summary } from "./_stats.ts";
import type { ProgtcClient } from "../client/mod.ts";

const TARGET_RATIO = 2;

function program(n: number, parallel: boolean): string {
  return parallel
    ? `import { echo } from "tools";\nawait Promise.all(Array.from({ length: ${n} }, (_, i) => echo(i)));\n`
    : `import { echo } from "tools";\nfor (let i = 0; i < ${n}; i++) await echo(i);\n`;
}

/** One progtc execution with `n` echo calls: client-side stamps of each call, and total time. */
export async function progtcRun(
  client: ProgtcClient,
  n: number,
  parallel = false,
): Promise<{ stamps: number[]; total: number }> {
  const stamps: number[] = [];
  const started = performance.now();
  const result = await client.executeCode({
    code: program(n, parallel),
    tools: {
      echo: (i: number) => {
        stamps.push(performance.now());
        return i;
      },
    },
  });
  const total = performance.now() - started;
  if (result.type !== "success" || stamps.length !== n) {
    throw new Error(`Tool-call run failed: ${result.type}, ${stamps.length}/${n} calls`);
  }
  return { stamps, total };
}

/** Round-trip gaps of one setup, pooled over runs, and each run's median. */
class Series {
  all: number[] = [];
  runMedians: number[] = [];
  add(g: number[]): void {
    this.all.push(...g);
    this.runMedians.push(median(g));
  }
  get summary(): Summary {
    return summarize(this.all);
  }
}

function signed(value: number): string {
  return value >= 0 ? `+${ms(value)}` : ms(value);
}

function gapRow(label: string, s: Summary): string[] {
  return [label, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.mean), `${s.n}`];
}

async function run(ctx: BenchContext): Promise<Section> {
  const calls = ctx.n(100, 20);
  const runs = ctx.n(20, 4);
  const warmup = 3;
  ctx.log("tool_call: starting the echo and progtc server processes");
  await using echoProcess = startHelper([
    "run",
    "--quiet",
    "--allow-net",
    `${BENCH_DIR}_echo_process.ts`,
  ]);
  const echoUrl = (JSON.parse(await echoProcess.next()) as { url: string }).url;
  await using remote = await startRemoteServer();
  await using echoLocal = await startEchoServer();
  await using local = await startBenchServer();

  const echoOut = new Series();
  const progtcOut = new Series();
  const echoIn = new Series();
  const progtcIn = new Series();
  const totals: number[] = [];
  const emptyTotals: number[] = [];
  const batchTotals: number[] = [];
  ctx.log(`tool_call: ${warmup} warm-up + ${runs} rounds of ${calls} round trips per setup`);
  for (let r = -warmup; r < runs; r++) {
    const keep = r >= 0;
    // Alternate which goes first, so that neither always runs right after a pool refill.
    const pairs: [() => Promise<void>, () => Promise<void>][] = [[
      async () => {
        const e = gaps((await echoRun(echoUrl, calls)).stamps.slice(0, calls));
        if (keep) echoOut.add(e);
      },
      async () => {
        await remote.warm(20);
        const p = await progtcRun(remote.client, calls);
        if (keep) progtcOut.add(gaps(p.stamps)), totals.push(p.total);
      },
    ], [
      async () => {
        const e = gaps((await echoRun(echoLocal.url, calls)).stamps.slice(0, calls));
        if (keep) echoIn.add(e);
      },
      async () => {
        await local.warm();
        const p = await progtcRun(local.client, calls);
        if (keep) progtcIn.add(gaps(p.stamps));
      },
    ]];
    for (const [a, b] of pairs) {
      if (r % 2 === 0) await a(), await b();
      else await b(), await a();
    }
    await remote.warm(20);
    const empty = await progtcRun(remote.client, 0);
    await remote.warm(20);
    const batch = await progtcRun(remote.client, calls, true);
    if (keep) emptyTotals.push(empty.total), batchTotals.push(batch.total);
  }

  const eo = echoOut.summary;
  const po = progtcOut.summary;
  const ei = echoIn.summary;
  const pi = progtcIn.summary;
  const t0 = median(emptyTotals);
  const sub = summarize(totals.map((t) => (t - t0) / calls));
  const batch = summarize(batchTotals.map((t) => (t - t0) / calls));
  const r50 = po.p50 / eo.p50;
  const r90 = po.p90 / eo.p90;
  const pairs = summarize(progtcOut.runMedians.map((p, i) => p / echoOut.runMedians[i]!));
  const ri50 = pi.p50 / ei.p50;
  const met = r50 <= TARGET_RATIO;
  return {
    title: "Tool-call round trip",
    description: `Time per tool call: ${runs} executions of ${calls} sequential ` +
      "`await echo(i)` calls through `ProgtcClient`, interleaved with runs of the bare Deno SSE " +
      "echo (same frame and body sizes, same SSE parser, the same POST). **Primary: each server " +
      "in a process of its own** (the progtc server with the permissions and defaults of " +
      "`deno task serve`, its one log line per execution discarded; the echo a bare " +
      "`Deno.serve`), the client in the bench process, as " +
      "deployed. Secondary: both servers inside the bench process. " +
      `${warmup} warm-up rounds are discarded; percentiles are over all round trips.`,
    tables: [{
      head: ["", "p50 ms", "p90 ms", "p99 ms", "mean ms", "samples"],
      rows: [
        gapRow("**servers in their own processes:** bare Deno SSE echo (baseline)", eo),
        gapRow("progtc, between calls", po),
        [
          "progtc, (T(N) − T(0)) / N",
          ms(sub.p50),
          ms(sub.p90),
          "",
          ms(sub.mean),
          `${sub.n} runs`,
        ],
        [
          `progtc, ${calls} calls at once (Promise.all), (T(N) − T(0)) / N`,
          ms(batch.p50),
          ms(batch.p90),
          "",
          ms(batch.mean),
          `${batch.n} runs`,
        ],
        ["**ratio progtc / echo**", `**${ratio(r50)}**`, ratio(r90), "", "", ""],
        [
          "ratio per interleaved pair (p50 / p90 of pairs)",
          ratio(pairs.p50),
          ratio(pairs.p90),
          "",
          "",
          `${pairs.n} pairs`,
        ],
        gapRow("servers in the bench process: bare Deno SSE echo", ei),
        gapRow("servers in the bench process: progtc, between calls", pi),
        [
          "ratio progtc / echo, in the bench process",
          ratio(ri50),
          ratio(pi.p90 / ei.p90),
          "",
          "",
          "",
        ],
      ],
    }],
    notes: [
      `**Target (≤ ${TARGET_RATIO}× the echo, servers in their own processes): ` +
      `${met ? "met" : "not met"}** in this run: ${ms(po.p50)} ms against ${ms(eo.p50)} ms ` +
      `(p50), ${ratio(r50)}; p90 ${ms(po.p90)} ms against ${ms(eo.p90)} ms, ${ratio(r90)}.`,
      `With both servers inside the bench process (client and server on one thread, no ` +
      `process switch for the echo) the echo takes ${ms(ei.p50)} ms and progtc ${ms(pi.p50)} ms ` +
      `(${ratio(ri50)}): moving the servers out of the bench process changes the echo's p50 ` +
      `by ${signed(eo.p50 - ei.p50)} ms and progtc's by ${signed(po.p50 - pi.p50)} ms. ` +
      "progtc's round trip also crosses the sandbox's pipes and worker, wherever its server runs.",
      `T(0), an execution that makes no call, took ${ms(t0)} ms (median, server process).`,
      "The ratio compares sequential calls (each waits for the previous result), the worst case. " +
      "Calls issued together (`Promise.all`) overlap their round trips; their per-call cost is " +
      "shown for information, with no target.",
    ],
    checks: [{
      what: "tool-call round trip, progtc p50 / echo p50 (servers in their own processes)",
      target: `≤ ${TARGET_RATIO}×`,
      measured: `${ratio(r50)} (${ms(po.p50)} ms vs ${ms(eo.p50)} ms)`,
      met,
    }],
  };
}

/** The tool-call round-trip benchmark. */
export const toolCall: BenchModule = { name: "tool_call", run };
