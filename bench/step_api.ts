/**
 * Step API (issue 3): a sequential program of N tool calls driven step by step through
 * `ProgtcClient.executeCodeStep` and `runStepToolCalls`, N = 10, 25, 50, against two real
 * servers: one with the default `warmResumeTtl` (each step continues the paused execution)
 * and one with `warmResumeTtl: 0` (each step replays the program from the start, answering
 * the recorded calls from the state token). The servers' own log tells which mode each step
 * took, so a run that silently fell back to replay cannot pass as warm.
 *
 * @module
 */
import type { BenchContext, BenchModule, Section, Table } from "./_types.ts";
import { startBenchServer } from "./_server.ts";
import { startProbe } from "./_probe.ts";
import { median, ms, ratio, summarize } from "./_stats.ts";
import { type ProgtcClient, runStepToolCalls } from "../client/mod.ts";

const SIZES = [10, 25, 50];
/** Warm resume: the latest resumes may cost at most this much more than the first ones. */
const FLAT_FACTOR = 1.5;

function stepProgram(n: number): string {
  return `import * as tools from "tools";\n` +
    `let sum = 0;\n` +
    `for (let i = 0; i < ${n}; i++) sum += await tools.step(i);\n` +
    `console.log(sum);\n`;
}

const tools = { step: (i: number) => 2 * i };

/** One program driven to its end: total time and each request's latency (N + 1 requests). */
async function drive(client: ProgtcClient, n: number): Promise<{ total: number; steps: number[] }> {
  const code = stepProgram(n);
  const toolNames = ["step"];
  const steps: number[] = [];
  const started = performance.now();
  let t = performance.now();
  let answer = await client.executeCodeStep({ code, toolNames });
  steps.push(performance.now() - t);
  while (answer.type === "tool_call") {
    const { toolResults, toolErrors } = await runStepToolCalls(answer.tool_calls, tools);
    t = performance.now();
    answer = await client.executeCodeStep({
      code,
      toolNames,
      state: answer.state,
      toolResults,
      toolErrors,
    });
    steps.push(performance.now() - t);
  }
  const total = performance.now() - started;
  const expected = `${n * (n - 1)}\n`;
  if (answer.type !== "success" || answer.stdout !== expected || steps.length !== n + 1) {
    throw new Error(`Step run failed: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  return { total, steps };
}

const HOPS: [string, string, string][] = [
  [
    "request in, state checked, result written to the sandbox",
    "client.post",
    "sandbox.tool_result",
  ],
  [
    "program runs to its next call (tool_call parsed)",
    "sandbox.tool_result",
    "sandbox.event.tool_call",
  ],
  [
    "sandbox reports the program idle (all calls issued)",
    "sandbox.event.tool_call",
    "sandbox.event.idle",
  ],
  ["state token made, answer back at the client", "sandbox.event.idle", "client.answer"],
];

/** Where a warm resume's time goes: one instrumented `n`-step run (see `_probe.ts`). */
async function warmBreakdown(n: number): Promise<{ table: Table; idleShare: number }> {
  await using probe = await startProbe();
  await probe.runner.warm();
  const code = stepProgram(n);
  const toolNames = ["step"];
  let answer = await probe.client.executeCodeStep({ code, toolNames });
  probe.clear();
  while (answer.type === "tool_call") {
    const { toolResults, toolErrors } = await runStepToolCalls(answer.tool_calls, tools);
    probe.mark("client.post");
    answer = await probe.client.executeCodeStep({
      code,
      toolNames,
      state: answer.state,
      toolResults,
      toolErrors,
    });
    probe.mark("client.answer");
  }
  if (answer.type !== "success") throw new Error(`Instrumented step run failed: ${answer.type}`);
  // Resumes that returned a call: all but the last request.
  const count = n - 1;
  const hop = (from: string, to: string) =>
    summarize(Array.from({ length: count }, (_, k) => probe.get(to)[k]! - probe.get(from)[k]!));
  const total = hop("client.post", "client.answer");
  const hops = HOPS.map(([label, from, to]) => ({ label, s: hop(from, to) }));
  const share = (mean: number) => `${((mean / total.mean) * 100).toFixed(0)}%`;
  return {
    table: {
      head: ["warm resume, where the time goes", "p50 ms", "p90 ms", "mean ms", "share of mean"],
      rows: [
        ...hops.map(({ label, s }) => [label, ms(s.p50), ms(s.p90), ms(s.mean), share(s.mean)]),
        ["**whole resume (instrumented)**", ms(total.p50), ms(total.p90), ms(total.mean), "100%"],
      ],
    },
    idleShare: hops[2]!.s.mean / total.mean,
  };
}

/** Least-squares fit of y = a + b·x: a, b and R². */
export function linearFit(xs: number[], ys: number[]): { a: number; b: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** Counts the modes (`start`, `warm`, `replay`) in step log lines. */
function modes(lines: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const mode = line.match(/^step \S+ #\d+ \S+ \((\w+)[,)]/)?.[1];
    if (mode) counts[mode] = (counts[mode] ?? 0) + 1;
  }
  return counts;
}

interface Mode {
  label: string;
  totals: Map<number, number[]>;
  /** Per-request latencies of every N = 50 run, by request index. */
  last: number[][];
  log: string[];
}

async function run(ctx: BenchContext): Promise<Section> {
  const reps = ctx.n(3, 1);
  const warmLog: string[] = [];
  const replayLog: string[] = [];
  await using warmServer = await startBenchServer({ log: (line) => warmLog.push(line) });
  await using replayServer = await startBenchServer({
    warmResumeTtl: 0,
    log: (line) => replayLog.push(line),
  });
  const warm: Mode = { label: "warm resume", totals: new Map(), last: [], log: warmLog };
  const replay: Mode = { label: "forced replay", totals: new Map(), last: [], log: replayLog };
  ctx.log(`step_api: 1 warm-up + ${reps} runs per size and mode, N = ${SIZES.join(", ")}`);
  for (const [server, mode] of [[warmServer, warm], [replayServer, replay]] as const) {
    await server.warm();
    await drive(server.client, 5);
    mode.log.splice(0);
  }
  for (let rep = 0; rep < reps; rep++) {
    for (const n of SIZES) {
      for (const [server, mode] of [[warmServer, warm], [replayServer, replay]] as const) {
        await server.warm();
        const { total, steps } = await drive(server.client, n);
        mode.totals.set(n, [...mode.totals.get(n) ?? [], total]);
        if (n === SIZES[SIZES.length - 1]) mode.last.push(steps);
      }
    }
  }

  const big = SIZES.at(-1)!;
  ctx.log(`step_api: one instrumented ${big}-step warm run`);
  const breakdown = await warmBreakdown(big);
  const analyse = (mode: Mode) => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const [n, totals] of mode.totals) for (const t of totals) xs.push(n), ys.push(t);
    // Request k (1-based) of an N = big run: #1 starts, #2 … #big resume and return the next
    // call, #big+1 resumes and ends the program (left out: it prints and ends instead).
    const resumes = mode.last.map((steps) => steps.slice(1, -1));
    const early = median(resumes.flatMap((r) => r.slice(0, 10)));
    const late = median(resumes.flatMap((r) => r.slice(-10)));
    // Between the windows' medians (requests #2–#11 and the last ten before the end): robust
    // to the few requests that wait for a sandbox to boot.
    const slope = (late - early) / (big - 11);
    return {
      fit: linearFit(xs, ys),
      start: median(mode.last.map((steps) => steps[0]!)),
      early,
      late,
      slope,
      end: median(mode.last.map((steps) => steps.at(-1)!)),
      total: (n: number) => median(mode.totals.get(n)!),
    };
  };
  const w = analyse(warm);
  const r = analyse(replay);
  const signed = (v: number) => (v >= 0 ? `+${ms(v)}` : ms(v));
  const latencyRow = (mode: Mode, a: typeof w) => [
    mode.label,
    ms(a.start),
    ms(a.early),
    ms(a.late),
    ratio(a.late / a.early),
    signed(a.slope),
    ms(a.end),
  ];
  const small = SIZES[0]!;
  const flat = w.late / w.early <= FLAT_FACTOR;
  // A latency growing by `slope` per request adds about slope × N² / 2 to the total.
  const quadratic = (a: typeof w) => (a.slope * big * big) / 2;
  const warmModes = modes(warm.log);
  const replayModes = modes(replay.log);
  const expectedWarm = reps * SIZES.reduce((sum, n) => sum + n, 0);
  return {
    title: "Step API: warm resume against forced replay",
    description: "`for (let i = 0; i < N; i++) sum += await tools.step(i)`, then print, driven " +
      "with `ProgtcClient.executeCodeStep` + `runStepToolCalls` (N + 1 requests) against two " +
      "real servers in the bench process with the default pool: one with the default " +
      "`warmResumeTtl` (warm resume), one with `warmResumeTtl: 0` (every step replays the " +
      `program from the start). Median of ${reps} run${
        reps === 1 ? "" : "s"
      } per N, the two modes interleaved, pool ` +
      "full before each run.",
    tables: [{
      head: [
        "N steps",
        "warm total ms",
        "warm ms/step",
        "replay total ms",
        "replay ms/step",
        "replay / warm",
      ],
      rows: SIZES.map((n) => [
        `${n}`,
        ms(w.total(n)),
        ms(w.total(n) / n),
        ms(r.total(n)),
        ms(r.total(n) / n),
        ratio(r.total(n) / w.total(n)),
      ]),
    }, {
      head: [
        `N = ${big}, latency of one request`,
        "request #1 (start) ms",
        "#2–#11 ms",
        `#${big - 9}–#${big} ms`,
        "late / early",
        "growth ms per request",
        `#${big + 1} (ends) ms`,
      ],
      rows: [latencyRow(warm, w), latencyRow(replay, r)],
    }, breakdown.table],
    notes: [
      `Warm resume: least-squares line through all runs, total = ${ms(w.fit.a)} + ` +
      `${ms(w.fit.b)} ms × N (R² ${w.fit.r2.toFixed(3)}); from N = ${small} to ${big} ` +
      `(${big / small}× the steps) the total grows ${ratio(w.total(big) / w.total(small))} ` +
      "as the fixed start cost spreads. In a " +
      `${big}-step run a resume takes ${ms(w.early)} ms early and ${ms(w.late)} ms late ` +
      `(slope ${signed(w.slope)} ms per request): ` +
      (flat ? "a constant cost per step, so the total is linear." : "**the cost per step grows**."),
      `Forced replay: each request re-runs the program and answers every earlier call from ` +
      `the state, so its latency grows by ${signed(r.slope)} ms per request (${ms(r.early)} → ` +
      `${ms(r.late)} ms); that adds about slope × N²/2 = ${ms(quadratic(r))} ms to the ` +
      `${ms(r.total(big))} ms total at N = ${big} (super-linear: ` +
      `${ratio(r.total(big) / r.total(small))} for ${big / small}× the steps). The linear part ` +
      "is larger at these N: every replayed step takes a fresh sandbox, so with the pool of 2 " +
      `drained the early replays already take ${ms(r.early)} ms against ${ms(r.start)} ms for ` +
      "the first request, which found the pool full.",
      `In the instrumented warm run, ${(breakdown.idleShare * 100).toFixed(0)}% of a resume ` +
      "is the sandbox deciding that the program waits on its tools (it sends `idle` after two " +
      "turns of its own event loop with no new call) after the call itself has already arrived.",
      `Modes the servers logged: warm server ${JSON.stringify(warmModes)} (expected ` +
      `${expectedWarm} warm), replay server ${JSON.stringify(replayModes)}.`,
    ],
    checks: [
      {
        what: `step API, warm resume: resume latency, requests #${big - 9}–#${big} / ` +
          `#2–#11 (N = ${big})`,
        target: `≤ ${FLAT_FACTOR}× (linear total)`,
        measured: `${ratio(w.late / w.early)} (${ms(w.late)} vs ${ms(w.early)} ms)`,
        met: flat,
      },
      {
        what: "step API, warm server: every step after the first resumed warm",
        target: `${expectedWarm} warm`,
        measured: `${warmModes.warm ?? 0} warm, ${warmModes.replay ?? 0} replay`,
        met: warmModes.warm === expectedWarm && !warmModes.replay,
      },
    ],
  };
}

/** The step-API benchmark. */
export const stepApi: BenchModule = { name: "step_api", run };
