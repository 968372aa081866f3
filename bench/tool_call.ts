/**
 * Per-tool-call round trip: progtc against the bare Deno SSE echo, measured in the same run,
 * interleaved run by run so that both see the same machine noise.
 *
 * A progtc run is one execution of `for (let i = 0; i < N; i++) await echo(i)` through the real
 * `ProgtcClient` against a real server on port 0. A round trip is the time between two
 * consecutive tool calls reaching the client's tool function: POST of the result, the server,
 * the sandbox's pipes and worker, the next call back out over SSE. The echo measures the same
 * interval between two consecutive events. A second estimate for progtc subtracts an execution
 * with 0 calls: (T(N) − T(0)) / N.
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { echoRun, gaps, startEchoServer } from "./echo_baseline.ts";
import { startBenchServer } from "./_server.ts";
import { median, ms, ratio, summarize } from "./_stats.ts";
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

async function run(ctx: BenchContext): Promise<Section> {
  const calls = ctx.n(100, 20);
  const runs = ctx.n(20, 4);
  const warmup = 3;
  await using echo = await startEchoServer();
  await using progtc = await startBenchServer();

  const echoGaps: number[] = [];
  const progtcGaps: number[] = [];
  const echoRunP50: number[] = [];
  const progtcRunP50: number[] = [];
  const pairRatios: number[] = [];
  const totals: number[] = [];
  const emptyTotals: number[] = [];
  const batchTotals: number[] = [];
  ctx.log(`tool_call: ${warmup} warm-up + ${runs} runs of ${calls} round trips each`);
  for (let r = -warmup; r < runs; r++) {
    // Alternate which goes first, so that neither always runs right after a pool refill.
    const order = r % 2 === 0 ? ["echo", "progtc"] : ["progtc", "echo"];
    let e: number[] = [];
    let p: number[] = [];
    for (const which of order) {
      if (which === "echo") {
        e = gaps((await echoRun(echo.url, calls)).stamps.slice(0, calls));
      } else {
        await progtc.warm();
        const result = await progtcRun(progtc.client, calls);
        p = gaps(result.stamps);
        if (r >= 0) totals.push(result.total);
      }
    }
    await progtc.warm();
    const empty = await progtcRun(progtc.client, 0);
    await progtc.warm();
    const batch = await progtcRun(progtc.client, calls, true);
    if (r < 0) continue;
    emptyTotals.push(empty.total);
    batchTotals.push(batch.total);
    echoGaps.push(...e);
    progtcGaps.push(...p);
    echoRunP50.push(median(e));
    progtcRunP50.push(median(p));
    pairRatios.push(median(p) / median(e));
  }

  const es = summarize(echoGaps);
  const ps = summarize(progtcGaps);
  const t0 = median(emptyTotals);
  const perCallBySubtraction = totals.map((t) => (t - t0) / calls);
  const sub = summarize(perCallBySubtraction);
  const batch = summarize(batchTotals.map((t) => (t - t0) / calls));
  const r50 = ps.p50 / es.p50;
  const r90 = ps.p90 / es.p90;
  const pairs = summarize(pairRatios);
  return {
    title: "Tool-call round trip",
    description:
      `Time per tool call: ${runs} executions of ${calls} sequential \`await echo(i)\` ` +
      `calls through \`ProgtcClient\` and a real server, interleaved with ${runs} runs of the ` +
      `bare Deno SSE echo (same frame and body sizes, same SSE parser). ${warmup} warm-up ` +
      `rounds of each are discarded. Percentiles are over all ${ps.n} round trips.`,
    tables: [{
      head: ["", "p50 ms", "p90 ms", "p99 ms", "mean ms", "samples"],
      rows: [
        [
          "bare Deno SSE echo (baseline)",
          ms(es.p50),
          ms(es.p90),
          ms(es.p99),
          ms(es.mean),
          `${es.n}`,
        ],
        ["progtc, between calls", ms(ps.p50), ms(ps.p90), ms(ps.p99), ms(ps.mean), `${ps.n}`],
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
      ],
    }],
    notes: [
      `T(0), an execution that makes no call, took ${ms(t0)} ms (median) in this section.`,
      `Per-run medians: echo ${ms(median(echoRunP50))} ms, progtc ${ms(median(progtcRunP50))} ms.`,
      "The ratio compares sequential calls (each waits for the previous result), the worst case. " +
      "Calls issued together (`Promise.all`) overlap their round trips; their per-call cost is " +
      "shown for information, with no target.",
      "Client and server share the bench process, for progtc as for the echo. Running the " +
      "progtc server in a process of its own was tried while writing this harness and gave the " +
      "same per-call time within noise.",
    ],
    checks: [{
      what: "tool-call round trip, progtc p50 / echo p50",
      target: `≤ ${TARGET_RATIO}×`,
      measured: `${ratio(r50)} (${ms(ps.p50)} ms vs ${ms(es.p50)} ms)`,
      met: r50 <= TARGET_RATIO,
    }],
  };
}

/** The tool-call round-trip benchmark. */
export const toolCall: BenchModule = { name: "tool_call", run };
