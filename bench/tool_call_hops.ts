/**
 * Where a progtc tool call's round trip goes, hop by hop (see `_probe.ts` for how the stamps
 * are taken), from the client's tool function being called for call k to it being called for
 * call k + 1:
 *   client     tool function called → POST /tool-results sent (invoke, JSON)
 *   http in    POST sent → server handler entered
 *   server     routing → key check → body read and JSON parsed → schema, deliver, write
 *   sandbox    result written to the sandbox → its next tool_call line parsed by the server
 *   relay      tool_call parsed → SSE frame enqueued (checks, id, timer)
 *   sse out    frame enqueued → client's tool function called (HTTP, SSE parse, frame check)
 *
 * Same-run references take HTTP out: the sandbox driven directly (answering at once, and after
 * 1 ms, as long as it waits inside a real execution), and a bare child process answering lines
 * directly or through a relay worker (the floor of the sandbox's process-and-worker design).
 *
 * @module
 */
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { gaps } from "./echo_baseline.ts";
import { type Hop, hopDurations, startProbe } from "./_probe.ts";
import { pipeEcho, sandboxEcho } from "./_sandbox_alone.ts";
import { median, ms, summarize, type Summary } from "./_stats.ts";

const HOPS: Hop[] = [
  ["client: tool called → POST sent", "client.tool", 0, "tool-results.sent", 0],
  ["http in: POST sent → handler entered", "tool-results.sent", 0, "tool-results.in", 0],
  ["server: handler entered → auth starts", "tool-results.in", 0, "tool-results.authStart", 0],
  ["server: auth (key check, synchronous)", "tool-results.authStart", 0, "tool-results.authEnd", 0],
  ["server: body read, JSON parsed", "tool-results.authEnd", 0, "tool-results.parsed", 0],
  ["server: schema, deliver, write to sandbox", "tool-results.parsed", 0, "sandbox.tool_result", 0],
  [
    "sandbox: result written → next call parsed",
    "sandbox.tool_result",
    0,
    "sandbox.event.tool_call",
    1,
  ],
  ["relay: call parsed → SSE frame enqueued", "sandbox.event.tool_call", 1, "sse.tool_call", 1],
  ["sse out: frame enqueued → client tool called", "sse.tool_call", 1, "client.tool", 1],
];
const SANDBOX_HOP = 6;

function row(label: string, s: Summary, total?: Summary): string[] {
  const share = total ? `${((s.mean / total.mean) * 100).toFixed(0)}%` : "";
  return [label, ms(s.p50), ms(s.p90), ms(s.mean), share];
}

async function run(ctx: BenchContext): Promise<Section> {
  const calls = ctx.n(100, 20);
  const runs = ctx.n(10, 3);
  const perHop: number[][] = HOPS.map(() => []);
  const totals: number[] = [];
  const hot: number[] = [];
  const idle1ms: number[] = [];
  {
    await using probe = await startProbe();
    const code =
      `import { echo } from "tools";\nfor (let i = 0; i < ${calls}; i++) await echo(i);\n`;
    ctx.log(`tool_call_hops: 1 warm-up + ${runs} instrumented runs of ${calls} calls`);
    for (let r = -1; r < runs; r++) {
      await probe.runner.warm();
      probe.clear();
      const result = await probe.client.executeCode({
        code,
        tools: { echo: (i: number) => (probe.mark("client.tool"), i) },
      });
      if (result.type !== "success") throw new Error(`Hops run failed: ${result.type}`);
      if (r < 0) continue;
      // The execution's own request went through the server first; keep the tool results'.
      const missing = HOPS.flatMap(([, from, , to]) => [from, to])
        .filter((name) => probe.get(name).length < calls);
      if (missing.length > 0) throw new Error(`Hop stamps missing: ${[...new Set(missing)]}`);
      totals.push(...gaps(probe.get("client.tool")));
      hopDurations(probe, HOPS, calls - 1).forEach((d, h) => perHop[h]!.push(...d));
      // Same-run reference: the same sandbox design with no HTTP around it.
      await probe.runner.warm();
      hot.push(...(await sandboxEcho(probe.runner, calls)).slice(5));
      await probe.runner.warm();
      idle1ms.push(...(await sandboxEcho(probe.runner, Math.ceil(calls / 2), 1)).slice(5));
    }
  }
  ctx.log("tool_call_hops: bare pipe references");
  const direct: number[] = [];
  const viaWorker: number[] = [];
  const workerOut: number[] = [];
  for (let r = 0; r < 3; r++) {
    direct.push(...(await pipeEcho("direct", calls + 20)).slice(20));
    viaWorker.push(...(await pipeEcho("worker", calls + 20)).slice(20));
    workerOut.push(...(await pipeEcho("worker-out", calls + 20)).slice(20));
  }

  const total = summarize(totals);
  const s = perHop.map((d) => summarize(d));
  const serverMean = s.slice(2, 6).reduce((sum, x) => sum + x.mean, 0);
  return {
    title: "Tool-call round trip, hop by hop",
    description: `Where one round trip goes: ${runs} instrumented executions of ${calls} calls ` +
      "(hops and method in `bench/tool_call_hops.ts` and `bench/_probe.ts`). Shares are of the " +
      "mean (hop p50s do not add up to the total p50). The wraps add a few µs per hop.",
    tables: [{
      head: ["hop", "p50 ms", "p90 ms", "mean ms", "share of mean"],
      rows: [
        ...HOPS.map(([label], h) => row(label, s[h]!, total)),
        row("**whole round trip (instrumented)**", total, total),
        row("reference: sandbox alone, answered at once", summarize(hot)),
        row("reference: sandbox alone, answered after 1 ms", summarize(idle1ms)),
        row("reference: bare child process, line in → out", summarize(direct)),
        row("reference: same, relayed through a worker", summarize(viaWorker)),
        row("reference: same, the worker writes stdout itself", summarize(workerOut)),
      ],
    }],
    notes: [
      `Driven without HTTP, the same sandbox answers in ${ms(median(hot))} ms (p50) when each ` +
      `result is written at once, and in ${ms(median(idle1ms))} ms when it first waited 1 ms, ` +
      `as it does inside a real execution (here its hop is ${ms(s[SANDBOX_HOP]!.p50)} ms)` +
      (median(idle1ms) > 1.2 * median(hot)
        ? ": a process and a worker thread that went to sleep take longer to wake. "
        : ". ") +
      "A bare child " +
      `process relaying through a worker, the floor of this design, takes ` +
      `${ms(median(viaWorker))} ms; the worker writing its lines to stdout itself, ` +
      `${ms(median(workerOut))} ms.`,
      `The server's own work (routing, key check, body, schema, deliver) averages ` +
      `${ms(serverMean)} ms per call, of which the key check (synchronous SHA-256 and ` +
      `constant-time compare) ${ms(s[3]!.mean)} ms (p50 ${ms(s[3]!.p50)}).`,
    ],
    checks: [],
  };
}

/** The hop-by-hop tool-call profile. */
export const toolCallHops: BenchModule = { name: "tool_call_hops", run };
