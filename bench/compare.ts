/**
 * The comparison of issue 8: ours (TypeScript and Python programs, one server with the defaults
 * of `deno task serve`), the reference progtc 0.2.0 server and the echo, each in its own
 * process, driven by the same raw client ({@linkcode execute}). Sections:
 *
 * - `cpu`: CPU per trivial execution, server and all its descendants, from /proc;
 * - `throughput`: executions/s of a 1-tool-call program with 1, 8 and 32 concurrent clients;
 * - `latency`: trivial executions back to back (p50/p95), and each after an idle pause;
 * - `round_trip`: the gap between consecutive tool-call frames of a loop of sequential calls;
 * - `memory`: PSS per execution held on a tool call.
 *
 * Each section records its numbers for the summary and the targets ({@linkcode summary}).
 *
 * @module
 */
import { type Endpoint, execute, expectSuccess, fault, type ToolCall } from "./_client.ts";
import {
  median,
  mib,
  ms,
  percentile,
  rate,
  ratio,
  selfCpu,
  sleep,
  systemCpu,
  type Table,
  treeCpu,
  treeMemory,
} from "./_lib.ts";
import { REFERENCE_VERSION, type Server, settle } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";

/** The four things compared. */
export type Key = "ts" | "py" | "ref" | "echo";

const LABEL: Record<Key, string> = {
  ts: "ours, TypeScript",
  py: "ours, Python",
  ref: `reference ${REFERENCE_VERSION}`,
  echo: "echo",
};
const SERVER = { ts: "ours", py: "ours", ref: "reference", echo: "echo" } as const;

interface Target {
  key: Key;
  label: string;
  server: Server;
}

async function targets(ctx: Ctx, keys: Key[]): Promise<Target[]> {
  const out: Target[] = [];
  for (const key of keys) {
    out.push({ key, label: LABEL[key], server: await ctx.server(SERVER[key]) });
  }
  return out;
}

/** A request body for `key` and the stdout it must end with. */
interface Request {
  body: Record<string, unknown>;
  stdout: string;
  calls: number;
}

/** `console.log(1)` / `print(1)`. */
function trivial(key: Key): Request {
  const code = key === "ts" || key === "echo" ? "console.log(1)" : "print(1)";
  const body: Record<string, unknown> = { code, tool_names: [] };
  if (key === "py") body.language = "python";
  if (key === "echo") body.echo = { args: [], stdout: "1\n" };
  return { body, stdout: "1\n", calls: 0 };
}

/** `n` sequential `await echo(base + i)`, printing their sum. */
export function loop(key: Key, n: number, base: number): Request {
  const code = key === "ts" || key === "echo"
    ? `import { echo } from "tools";\nlet s = 0;\n` +
      `for (let i = 0; i < ${n}; i++) s += await echo(${base} + i);\nconsole.log(s);\n`
    : `from tools import echo\ns = 0\nfor i in range(${n}):\n    s += await echo(${base} + i)\n` +
      `print(s)\n`;
  const stdout = `${n * base + (n * (n - 1)) / 2}\n`;
  const body: Record<string, unknown> = { code, tool_names: ["echo"] };
  if (key === "py") body.language = "python";
  if (key === "echo") body.echo = { args: Array.from({ length: n }, (_, i) => [base + i]), stdout };
  return { body, stdout, calls: n };
}

/** Executes `request` on `endpoint`; throws unless it succeeds with its stdout and calls. */
export async function run(
  endpoint: Endpoint,
  request: Request,
  what: string,
  answer?: (c: ToolCall) => unknown,
) {
  return expectSuccess(
    await execute(endpoint, request.body, answer),
    request.stdout,
    what,
    request.calls,
  );
}

// ---------------------------------------------------------------------------------------------
// What the sections measured, for the summary and the targets.

interface Throughput {
  rate: number;
  cpu: number;
  busy: number;
  client: number;
  latency: number;
  completed: number;
  failed: number;
  why?: string;
}

/** What the sections of this run measured so far (read by the `floors` section). */
export function measured(): Readonly<typeof results> {
  return results;
}

const results = {
  cpu: {} as Partial<Record<Key, { total: number; own: number; descendants: number; n: number }>>,
  throughput: new Map<number, Partial<Record<Key, Throughput>>>(),
  backToBack: {} as Partial<Record<Key, { p50: number; p95: number; max: number; n: number }>>,
  idle: {} as Partial<Record<Key, { p50: number; max: number; n: number }>>,
  roundTrip: {} as Partial<
    Record<Key, { p50: number; p95: number; mean: number; n: number; calls: number }>
  >,
  memory: {} as Partial<
    Record<
      Key,
      {
        perExecution: number;
        idle: number;
        held: number;
        k: number;
        processes: string;
        /** PSS of each process that appeared while the executions were held. */
        added: number[];
      }
    >
  >,
};

const CLIENTS = [1, 8, 32];
const cores = navigator.hardwareConcurrency;

// ---------------------------------------------------------------------------------------------
// cpu

async function cpu(ctx: Ctx): Promise<Section> {
  const list = await targets(ctx, ["ts", "py", "ref", "echo"]);
  const per: Record<Key, number> = {
    ts: ctx.n(40, 8),
    py: ctx.n(10, 4),
    ref: ctx.n(10, 4),
    echo: ctx.n(100, 20),
  };
  const rounds = 2;
  const sums = new Map<Key, { total: number; own: number; descendants: number; n: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const t of list) {
      ctx.log(`cpu: round ${round + 1}/${rounds}, ${t.label}: ${per[t.key]} trivial executions`);
      await settle(t.server);
      const before = await treeCpu(t.server.pid);
      for (let i = 0; i < per[t.key]; i++) await run(t.server, trivial(t.key), t.label);
      await settle(t.server);
      const after = await treeCpu(t.server.pid);
      const s = sums.get(t.key) ?? { total: 0, own: 0, descendants: 0, n: 0 };
      s.total += after.total - before.total;
      s.own += after.own - before.own;
      s.descendants += after.descendants - before.descendants;
      s.n += per[t.key];
      sums.set(t.key, s);
    }
  }
  const rows = list.map((t) => {
    const s = sums.get(t.key)!;
    const r = { total: s.total / s.n, own: s.own / s.n, descendants: s.descendants / s.n, n: s.n };
    results.cpu[t.key] = r;
    return [t.label, `${s.n}`, ms(r.total), ms(r.own), ms(r.descendants)];
  });
  return {
    title: "CPU per trivial execution",
    description:
      "Sequential `console.log(1)` / `print(1)` executions. CPU time (user + system) of " +
      "the server process and all its descendants from /proc, sampled once the tree is quiet " +
      "before and after the executions (so work an execution leaves behind, such as starting a " +
      "replacement sandbox, is counted), divided by the number of executions; " +
      `${rounds} rounds, the servers interleaved. ` +
      "Descendants are the living ones (their own time and their reaped children's) and the " +
      "reaped ones (the server's cutime + cstime). The client's CPU is not counted.",
    tables: [{
      head: ["server", "executions", "CPU ms / execution", "server process", "child processes"],
      rows,
    }],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// throughput

async function throughputRun(
  t: Target,
  clients: number,
  warmMs: number,
  windowMs: number,
): Promise<
  Throughput & {
    windowMs: number;
    busyTicks: number;
    totalTicks: number;
    cpuMs: number;
    clientMs: number;
  }
> {
  let stopping = false;
  const done: { end: number; latency: number; why?: string }[] = [];
  const client = async (c: number) => {
    for (let i = 0; !stopping; i++) {
      const request = loop(t.key, 1, c * 1_000_000 + i);
      try {
        const r = await execute(t.server, request.body);
        const why = fault(r, request.stdout, 1);
        done.push({ end: r.ended, latency: r.ended - r.started, ...why ? { why } : {} });
      } catch (error) {
        done.push({ end: performance.now(), latency: NaN, why: String(error) });
        await sleep(100);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, c) => client(c));
  // Warm up at least warmMs and until every client has finished one execution (up to 60 s).
  const warmStart = performance.now();
  while (
    performance.now() - warmStart < warmMs ||
    (done.length < clients && performance.now() - warmStart < 60_000)
  ) await sleep(20);
  const [cpu0, sys0, self0] = [await treeCpu(t.server.pid), await systemCpu(), await selfCpu()];
  const t0 = performance.now();
  const n0 = done.length;
  // The window: windowMs, and long enough for `clients` completions (up to 60 s).
  while (
    performance.now() - t0 < windowMs ||
    (done.length - n0 < clients && performance.now() - t0 < 60_000)
  ) await sleep(20);
  const t1 = performance.now();
  const [cpu1, sys1, self1] = [await treeCpu(t.server.pid), await systemCpu(), await selfCpu()];
  stopping = true;
  await Promise.all(loops);
  const inWindow = done.filter((d) => d.end >= t0 && d.end < t1);
  const ok = inWindow.filter((d) => !d.why);
  const failed = done.filter((d) => d.why);
  const cpuMs = cpu1.total - cpu0.total;
  const clientMs = self1 - self0;
  return {
    rate: ok.length / ((t1 - t0) / 1000),
    cpu: cpuMs / ok.length,
    busy: (sys1.busy - sys0.busy) / (sys1.total - sys0.total),
    client: clientMs / (t1 - t0),
    latency: median(ok.map((d) => d.latency)),
    completed: ok.length,
    failed: failed.length,
    ...failed[0]?.why ? { why: failed[0].why } : {},
    windowMs: t1 - t0,
    busyTicks: sys1.busy - sys0.busy,
    totalTicks: sys1.total - sys0.total,
    cpuMs,
    clientMs,
  };
}

async function throughput(ctx: Ctx): Promise<Section> {
  const list = await targets(ctx, ["ts", "py", "ref", "echo"]);
  const rounds = ctx.quick ? 1 : 2;
  const warmMs = ctx.quick ? 500 : 1500;
  const windowMs = ctx.quick ? 1500 : 4000;
  const rows: string[][] = [];
  for (const clients of CLIENTS) {
    const runs = new Map<Key, Awaited<ReturnType<typeof throughputRun>>[]>();
    for (let round = 0; round < rounds; round++) {
      for (const t of list) {
        ctx.log(`throughput: ${clients} clients, round ${round + 1}/${rounds}, ${t.label}`);
        await settle(t.server);
        runs.set(t.key, [
          ...runs.get(t.key) ?? [],
          await throughputRun(t, clients, warmMs, windowMs),
        ]);
      }
    }
    const byKey: Partial<Record<Key, Throughput>> = {};
    for (const t of list) {
      const rs = runs.get(t.key)!;
      const sum = (f: (r: (typeof rs)[number]) => number) => rs.reduce((s, r) => s + f(r), 0);
      const completed = sum((r) => r.completed);
      const why = rs.find((r) => r.why)?.why;
      const r: Throughput = {
        rate: completed / (sum((r) => r.windowMs) / 1000),
        cpu: sum((r) => r.cpuMs) / completed,
        busy: sum((r) => r.busyTicks) / sum((r) => r.totalTicks),
        client: sum((r) => r.clientMs) / sum((r) => r.windowMs),
        latency: median(rs.map((r) => r.latency)),
        completed,
        failed: sum((r) => r.failed),
        ...why ? { why } : {},
      };
      byKey[t.key] = r;
      rows.push([
        `${clients}`,
        t.label,
        rate(r.rate),
        ms(r.cpu),
        `${(r.busy * 100).toFixed(0)}%`,
        `${(r.client * 100).toFixed(0)}%`,
        ms(r.latency),
        `${r.completed}`,
        `${r.failed}${r.why ? ` (${r.why.slice(0, 80)})` : ""}`,
      ]);
      if (r.why) ctx.log(`throughput: ${t.label}: ${r.failed} failed, e.g. ${r.why}`);
    }
    results.throughput.set(clients, byKey);
  }
  return {
    title: "Throughput",
    description: `C concurrent client loops (C = ${CLIENTS.join(", ")}), each running executions ` +
      "of a program that makes exactly one tool call (`console.log(await echo(k))` / " +
      "`print(await echo(k))`, k unique, stdout checked), one after another. After a warm-up " +
      `(${warmMs} ms, and until every client has finished one execution), executions that end ` +
      `within a window of ${windowMs} ms (longer if needed for C of them) are counted; ` +
      `${rounds} round${rounds > 1 ? "s" : ""} per C, the servers interleaved. CPU per ` +
      `execution is the server tree's CPU over the window divided by those executions; ` +
      `"machine busy" is all CPU use on the ${cores} cores (/proc/stat), client included; ` +
      `"client CPU" is the bench process (the client), in % of one core.`,
    tables: [{
      head: [
        "clients",
        "server",
        "executions/s",
        "CPU ms / execution",
        "machine busy",
        "client CPU",
        "latency p50 ms",
        "executions counted",
        "failed",
      ],
      rows,
      left: [1],
    }],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// latency

async function latency(ctx: Ctx): Promise<Section> {
  const list = await targets(ctx, ["ts", "py", "ref", "echo"]);
  const per: Record<Key, number> = {
    ts: ctx.n(50, 10),
    py: ctx.n(20, 5),
    ref: ctx.n(20, 5),
    echo: ctx.n(50, 10),
  };
  const discard = 2;
  const rounds = 2;
  const samples = new Map<Key, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const t of list) {
      ctx.log(`latency: back to back, round ${round + 1}/${rounds}, ${t.label}: ${per[t.key]}`);
      await settle(t.server);
      for (let i = 0; i < per[t.key] + discard; i++) {
        const r = await run(t.server, trivial(t.key), t.label);
        if (i >= discard) samples.set(t.key, [...samples.get(t.key) ?? [], r.ended - r.started]);
      }
    }
  }
  const pauses = ctx.quick ? 2 : 5;
  const pauseMs = 3000;
  const idle = new Map<Key, number[]>();
  const paused = list.filter((t) => t.key !== "echo");
  for (let round = 0; round < pauses; round++) {
    for (const t of paused) {
      ctx.log(`latency: after ${pauseMs} ms idle, ${round + 1}/${pauses}, ${t.label}`);
      await sleep(pauseMs);
      const r = await run(t.server, trivial(t.key), t.label);
      idle.set(t.key, [...idle.get(t.key) ?? [], r.ended - r.started]);
    }
  }
  const rows = list.map((t) => {
    const s = samples.get(t.key)!;
    const b = { p50: median(s), p95: percentile(s, 95), max: Math.max(...s), n: s.length };
    results.backToBack[t.key] = b;
    const i = idle.get(t.key);
    if (i) results.idle[t.key] = { p50: median(i), max: Math.max(...i), n: i.length };
    return [
      t.label,
      ms(b.p50),
      ms(b.p95),
      ms(b.max),
      `${b.n}`,
      i ? ms(median(i)) : "–",
      i ? ms(Math.max(...i)) : "–",
      i ? `${i.length}` : "–",
    ];
  });
  return {
    title: "Trivial execution: back to back and after an idle pause",
    description: "`console.log(1)` / `print(1)`, from the request to the terminal frame at the " +
      `client. Back to back: ${rounds} blocks per server (interleaved) of sequential ` +
      `executions, the first ${discard} of each block discarded (they find a quiet server). ` +
      `After an idle pause: one execution after ${pauseMs} ms with no request to any server, ` +
      `${pauses} times per server.`,
    tables: [{
      head: [
        "server",
        "back to back p50 ms",
        "p95 ms",
        "max ms",
        "runs",
        `after ${pauseMs / 1000} s idle, p50 ms`,
        "max ms",
        "runs",
      ],
      rows,
    }],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// round_trip

async function roundTrip(ctx: Ctx): Promise<Section> {
  const list = await targets(ctx, ["echo", "ts", "py", "ref"]);
  // The reference polls for tool calls and results (about 100 ms per call): fewer calls.
  const calls: Record<Key, number> = {
    ts: ctx.n(100, 30),
    py: ctx.n(50, 20),
    ref: ctx.n(10, 5),
    echo: ctx.n(100, 30),
  };
  const rounds = ctx.n(6, 2);
  const gaps = new Map<Key, number[]>();
  for (let round = 0; round <= rounds; round++) {
    for (const t of list) {
      ctx.log(`round_trip: round ${round}/${rounds}${round === 0 ? " (warm-up)" : ""}, ${t.label}`);
      await settle(t.server);
      const r = await run(t.server, loop(t.key, calls[t.key], 7 * round), t.label);
      if (round === 0) continue;
      const g = gaps.get(t.key) ?? [];
      for (let i = 1; i < r.calls.length; i++) g.push(r.calls[i]!.at - r.calls[i - 1]!.at);
      gaps.set(t.key, g);
    }
  }
  const echo = median(gaps.get("echo")!);
  const rows = list.map((t) => {
    const g = gaps.get(t.key)!;
    const s = {
      p50: median(g),
      p95: percentile(g, 95),
      mean: g.reduce((a, b) => a + b, 0) / g.length,
      n: g.length,
      calls: calls[t.key],
    };
    results.roundTrip[t.key] = s;
    return [t.label, `${s.calls}`, ms(s.p50), ms(s.p95), ms(s.mean), ratio(s.p50 / echo), `${s.n}`];
  });
  return {
    title: "Tool-call round trip",
    description: "One execution of N sequential `await echo(i)` calls (the sum printed and " +
      "checked); the client answers each call as soon as its frame arrives. A round trip is the " +
      "time between two consecutive tool-call frames reaching the client: the client's POST " +
      "/tool-results, the server delivering the result to the program, the program's next call, " +
      `the next frame. ${rounds} rounds after a discarded warm-up round, the four servers ` +
      "interleaved in each round.",
    tables: [{
      head: [
        "server",
        "calls per execution",
        "p50 ms",
        "p95 ms",
        "mean ms",
        "p50 / echo p50",
        "round trips",
      ],
      rows,
    }],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// memory

async function memory(ctx: Ctx): Promise<Section> {
  const list = await targets(ctx, ["ts", "py", "ref"]);
  const held: Record<string, number> = { ts: 8, py: 4, ref: 4 };
  const rows: string[][] = [];
  for (const t of list) {
    const k = held[t.key]!;
    ctx.log(`memory: ${t.label}: ${k} executions held on a tool call`);
    // Start from full pools: one execution of each kind the server runs, then a quiet tree.
    for (const kind of t.server.name === "ours" ? ["ts", "py"] as const : [t.key]) {
      await run(t.server, trivial(kind), `${t.label}, before`);
    }
    await settle(t.server);
    await sleep(500);
    const idle = await treeMemory(t.server.pid);
    const release = Promise.withResolvers<void>();
    let arrived = 0;
    const allArrived = Promise.withResolvers<void>();
    const answer = async (call: ToolCall) => {
      if (++arrived === k) allArrived.resolve();
      await release.promise;
      return call.args[0];
    };
    const runs = Array.from(
      { length: k },
      (_, i) => run(t.server, loop(t.key, 1, 100 + i), `${t.label}, held`, answer),
    );
    const timeout = setTimeout(
      () =>
        allArrived.reject(new Error(`${t.label}: only ${arrived} of ${k} calls arrived in 30 s`)),
      30_000,
    );
    try {
      await allArrived.promise;
    } finally {
      clearTimeout(timeout);
    }
    await sleep(1000);
    await settle(t.server, 300, 3000);
    const full = await treeMemory(t.server.pid);
    release.resolve();
    await Promise.all(runs);
    const perExecution = (full.pss - idle.pss) / k;
    const before = new Set(idle.processes.map((p) => p.pid));
    const fresh = full.processes.filter((p) => !before.has(p.pid));
    const added = fresh.map((p) => p.pss).sort((a, b) => b - a);
    const processes = `${idle.processes.length} → ${full.processes.length}`;
    results.memory[t.key] = { perExecution, idle: idle.pss, held: full.pss, k, processes, added };
    rows.push([t.label, `${k}`, mib(idle.pss), mib(full.pss), mib(perExecution), processes]);
  }
  return {
    title: "Memory per held execution",
    description: "K executions started at once, each waiting on a tool call that the client " +
      "answers only after the measurement: once all K calls have arrived and 1 s more (and the " +
      "server's tree is quiet, at most 3 s), PSS (/proc/<pid>/smaps_rollup) of the server and " +
      "all its descendants, minus the same just before (quiet, idle), divided by K. Then the " +
      "calls are answered and each execution must end with the right stdout. PSS splits shared " +
      "pages (the Deno or Python binary) among the processes that share them; whatever an " +
      "execution makes the server start (a replacement for a sandbox taken from a pool) counts.",
    tables: [{
      head: [
        "server",
        "K",
        "idle tree PSS MiB",
        "held tree PSS MiB",
        "PSS MiB per held execution",
        "processes idle → held",
      ],
      rows,
    }],
    notes: [],
  };
}

/** The comparison sections, in the order a full run measures them. */
export const SECTIONS: { name: string; run: (ctx: Ctx) => Promise<Section> }[] = [
  { name: "cpu", run: cpu },
  { name: "throughput", run: throughput },
  { name: "latency", run: latency },
  { name: "round_trip", run: roundTrip },
  { name: "memory", run: memory },
];

// ---------------------------------------------------------------------------------------------
// Summary and targets

/** The headline table (what was measured of it) and the issue's targets. */
export function summary(): { table: Table; checks: Check[] } | undefined {
  const r = results;
  const has = Object.keys(r.cpu).length + r.throughput.size + Object.keys(r.backToBack).length +
    Object.keys(r.roundTrip).length + Object.keys(r.memory).length;
  if (has === 0) return undefined;
  const keys: Key[] = ["ts", "py", "ref", "echo"];
  const echoRt = r.roundTrip.echo?.p50 ?? NaN;
  const row = (
    label: string,
    cell: (k: Key) => number | undefined,
    format: (v: number) => string,
    compare = true,
  ) => {
    const values = keys.map((k) => cell(k));
    const py = values[1];
    const ref = values[2];
    return [
      label,
      ...values.map((v) => (v === undefined || !Number.isFinite(v) ? "–" : format(v))),
      compare && py !== undefined && ref !== undefined ? ratio(py / ref) : "–",
    ];
  };
  const rows = [
    row("CPU per trivial execution (server + sandbox, /proc), ms", (k) => r.cpu[k]?.total, ms),
    ...CLIENTS.map((c) =>
      row(
        `throughput, ${c} client${c > 1 ? "s" : ""}, 1 tool call each, executions/s`,
        (k) => r.throughput.get(c)?.[k]?.rate,
        rate,
      )
    ),
    [
      ...row("trivial execution back to back, p50 / p95 ms", (k) => r.backToBack[k]?.p50, ms).slice(
        0,
        1,
      ),
      ...keys.map((k) =>
        r.backToBack[k] ? `${ms(r.backToBack[k]!.p50)} / ${ms(r.backToBack[k]!.p95)}` : "–"
      ),
      r.backToBack.py && r.backToBack.ref ? ratio(r.backToBack.py.p50 / r.backToBack.ref.p50) : "–",
    ],
    row("trivial execution after 3 s idle, p50 ms", (k) => r.idle[k]?.p50, ms),
    [
      "tool-call round trip p50, ms (× echo)",
      ...keys.map((k) => {
        const v = r.roundTrip[k]?.p50;
        return v === undefined ? "–" : k === "echo" ? ms(v) : `${ms(v)} (${ratio(v / echoRt)})`;
      }),
      r.roundTrip.py && r.roundTrip.ref ? ratio(r.roundTrip.py.p50 / r.roundTrip.ref.p50) : "–",
    ],
    row(
      "memory per execution held on a tool call (PSS), MiB",
      (k) => r.memory[k]?.perExecution,
      mib,
    ),
  ];
  const table: Table = {
    head: ["", LABEL.ts, LABEL.py, LABEL.ref, LABEL.echo, "ours Python / reference"],
    rows,
  };

  const checks: Check[] = [];
  const add = (
    what: string,
    wanted: string,
    value: number | undefined,
    met: (v: number) => boolean,
    measured: (v: number) => string,
    why: (v: number) => string,
  ) => {
    if (value === undefined || Number.isNaN(value)) return;
    const ok = met(value);
    checks.push({
      group: "issue 8",
      what,
      wanted,
      measured: measured(value),
      met: ok,
      ...ok ? {} : { why: why(value) },
    });
  };
  const cpuWhy = (k: Key) => () => {
    const c = r.cpu[k]!;
    return `${ms(c.own)} ms of it in the server process, ${
      ms(c.descendants)
    } ms in its child processes`;
  };
  const tputWhy = (k: Key, clients: number) => () => {
    const t = r.throughput.get(clients)![k]!;
    const ceiling = (cores * 1000) / t.cpu;
    if (t.failed > 0) return `${t.failed} executions failed (${t.why?.slice(0, 120)})`;
    return t.busy >= 0.85
      ? `CPU-bound: the machine was ${(t.busy * 100).toFixed(0)}% busy; ${
        ms(t.cpu)
      } ms of server CPU per ` +
        `execution caps ${cores} cores at ${rate(ceiling)}/s (the client took ${
          (t.client * 100).toFixed(0)
        }% of a core)`
      : `not CPU-bound (machine ${(t.busy * 100).toFixed(0)}% busy): each execution took ${
        ms(t.latency)
      } ms (p50) ` +
        `with ${clients} clients`;
  };
  const b2bWhy = (k: Key) => () => {
    const b = r.backToBack[k]!;
    const i = r.idle[k];
    const c = r.cpu[k];
    if (i && b.p50 > 1.5 * i.p50) {
      return `back to back an execution waits for work the previous one left (after an idle pause p50 is ` +
        `${ms(i.p50)} ms${c ? `; each execution costs ${ms(c.total)} ms of CPU` : ""})`;
    }
    return `the execution itself takes that long${
      i ? ` (after an idle pause p50 ${ms(i.p50)} ms)` : ""
    }` +
      (c
        ? `; it costs ${ms(c.total)} ms of CPU (server ${ms(c.own)}, children ${ms(c.descendants)})`
        : "");
  };
  const rtWhy = (k: Key) => () => {
    const v = r.roundTrip[k]!.p50;
    return `${ms(v)} ms against ${ms(echoRt)} ms for the echo: ${
      ms(v - echoRt)
    } ms per call beyond HTTP + SSE, in ` +
      "the server and the sandbox's hops";
  };
  const tput8 = (k: Key) => r.throughput.get(8)?.[k]?.rate;
  const b2b = r.backToBack;
  const rt = (
    k: Key,
  ) => (r.roundTrip[k] && r.roundTrip.echo ? r.roundTrip[k]!.p50 / echoRt : undefined);
  const x = (v: number) => ratio(v);
  const msText = (v: number) => `${ms(v)} ms`;

  add(
    "TypeScript: CPU per trivial execution",
    "≤ 25 ms",
    r.cpu.ts?.total,
    (v) => v <= 25,
    msText,
    cpuWhy("ts"),
  );
  add(
    "TypeScript: throughput, 8 clients",
    "≥ 70/s",
    tput8("ts"),
    (v) => v >= 70,
    (v) => `${rate(v)}/s`,
    tputWhy("ts", 8),
  );
  add("TypeScript: back to back p50", "≤ 6 ms", b2b.ts?.p50, (v) => v <= 6, msText, b2bWhy("ts"));
  add("TypeScript: back to back p95", "≤ 20 ms", b2b.ts?.p95, (v) => v <= 20, msText, () => {
    const b = b2b.ts!;
    return `p95 ${ms(b.p95)} against p50 ${ms(b.p50)} ms (max ${ms(b.max)}): one execution in ` +
      "twenty waits, on work the previous ones left or on other processes sharing the " +
      `${cores} cores (see the section's load average)`;
  });
  add(
    "TypeScript: tool-call round trip p50 / echo p50",
    "≤ 2×",
    rt("ts"),
    (v) => v <= 2,
    (v) => `${x(v)} (${ms(r.roundTrip.ts!.p50)} vs ${ms(echoRt)} ms)`,
    rtWhy("ts"),
  );
  add(
    "Python: CPU per trivial execution",
    "≤ 150 ms",
    r.cpu.py?.total,
    (v) => v <= 150,
    msText,
    cpuWhy("py"),
  );
  add(
    "Python: throughput, 8 clients",
    "≥ 12/s",
    tput8("py"),
    (v) => v >= 12,
    (v) => `${rate(v)}/s`,
    tputWhy("py", 8),
  );
  const refRate = tput8("ref");
  add(
    "Python: throughput, 8 clients / reference",
    "≥ 3×",
    refRate === undefined ? undefined : (tput8("py") ?? NaN) / refRate,
    (v) => v >= 3,
    (v) => `${x(v)} (${rate(tput8("py")!)} vs ${rate(refRate!)}/s)`,
    tputWhy("py", 8),
  );
  add("Python: back to back p50", "≤ 40 ms", b2b.py?.p50, (v) => v <= 40, msText, b2bWhy("py"));
  add(
    "Python: tool-call round trip p50 / echo p50",
    "≤ 3×",
    rt("py"),
    (v) => v <= 3,
    (v) => `${x(v)} (${ms(r.roundTrip.py!.p50)} vs ${ms(echoRt)} ms)`,
    rtWhy("py"),
  );
  add(
    "Python: memory per held execution (PSS)",
    "≤ 80 MiB",
    r.memory.py?.perExecution,
    (v) => v <= 80 * 1024 * 1024,
    (v) => `${mib(v)} MiB`,
    () => {
      const m = r.memory.py!;
      return `with ${m.k} executions held the server's tree went from ${m.processes} processes ` +
        `and ${mib(m.idle)} → ${mib(m.held)} MiB PSS; the new processes have ${
          m.added.map(mib).join(", ")
        } MiB PSS`;
    },
  );
  return { table, checks };
}
