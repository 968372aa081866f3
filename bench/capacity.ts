/**
 * The `capacity` section (issue 18): how many executions one server holds at once while each
 * waits on a tool call, and the PSS each costs, with the defaults (only the call and execution
 * timeouts raised, so that executions can wait). Each server is started fresh for it: ours with
 * TypeScript programs, ours with Python programs, the reference 0.2.0, and the echo.
 *
 * Executions are started in batches; each calls `echo(k)` once (k unique) and waits. A batch is
 * held once all its calls arrived; the run stops at the target, or at the first batch with a
 * refusal (503), a failure, or a call that does not arrive within a minute. Then the tree's PSS
 * is read (quiet), every call is answered, and every execution must end in success printing its
 * own k.
 *
 * @module
 */
import { type Endpoint, execute, fault, type Run, type ToolCall } from "./_client.ts";
import { mib, sleep, treeMemory } from "./_lib.ts";
import { type Server, settle, startEcho, startOurs, startReference } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";

interface Target {
  key: "ts" | "py" | "ref" | "echo";
  label: string;
  start: () => Promise<Server>;
  /** Executions to hold, and per batch. */
  goal: number;
  batch: number;
}

const WAITING = ["--tool-call-timeout", "600", "--code-execution-timeout", "600"];

const TARGETS: Target[] = [
  { key: "ts", label: "ours, TypeScript", start: () => startOurs(WAITING), goal: 1200, batch: 100 },
  { key: "py", label: "ours, Python", start: () => startOurs(WAITING), goal: 200, batch: 10 },
  // The reference runs a Python process per execution: the harness stops at 36.
  { key: "ref", label: "reference 0.2.0", start: startReference, goal: 36, batch: 6 },
  { key: "echo", label: "echo", start: startEcho, goal: 200, batch: 50 },
];

/** The body of an execution that calls `echo(k)` once and prints the result. */
function body(key: Target["key"], k: number): Record<string, unknown> {
  // The reference runs Python only, and needs no language.
  if (key === "ref") {
    return { code: `from tools import echo\nprint(await echo(${k}))\n`, tool_names: ["echo"] };
  }
  if (key === "py") {
    return {
      code: `from tools import echo\nprint(await echo(${k}))\n`,
      tool_names: ["echo"],
      language: "python",
    };
  }
  const b: Record<string, unknown> = {
    code: `import { echo } from "tools";\nconsole.log(await echo(${k}));\n`,
    tool_names: ["echo"],
  };
  if (key === "echo") b.echo = { args: [[k]], stdout: `${k}\n` };
  return b;
}

interface Held {
  held: number;
  asked: number;
  why?: string;
  perExecution: number;
  idle: number;
  full: number;
  processes: string;
  holdMs: number;
  succeeded: number;
  faults: string[];
}

async function holdMany(t: Target, server: Server, log: (line: string) => void): Promise<Held> {
  const endpoint: Endpoint = server;
  // Warm: one execution of the kind, then a quiet tree.
  await execute(endpoint, body(t.key, 1), (call) => call.args[0]);
  await settle(server);
  await sleep(500);
  const idle = await treeMemory(server.pid);
  const release = Promise.withResolvers<void>();
  const runs: { k: number; run: Promise<Run> }[] = [];
  let arrived = 0;
  let ended: Run | undefined;
  let why: string | undefined;
  const started = performance.now();
  const answer = async (call: ToolCall) => {
    arrived++;
    await release.promise;
    return call.args[0];
  };
  while (runs.length < t.goal) {
    const n = Math.min(t.batch, t.goal - runs.length);
    const first = runs.length;
    for (let i = 0; i < n; i++) {
      const k = 10 + first + i;
      const run = execute(endpoint, body(t.key, k), answer);
      // Nothing ends before the release: an end now is a refusal or a failure.
      run.then((r) => ended ??= r);
      runs.push({ k, run });
    }
    const deadline = performance.now() + 60_000;
    while (arrived < runs.length && !ended && performance.now() < deadline) await sleep(20);
    if (ended || arrived < runs.length) {
      why = ended
        ? ended.status !== 200 ? `HTTP ${ended.status}` : fault(ended, "")
        : "calls did not arrive within 60 s";
      break;
    }
    log(`capacity: ${t.label}: ${arrived} held`);
  }
  const holdMs = performance.now() - started;
  await sleep(1000);
  await settle(server, 500, 5000);
  const full = await treeMemory(server.pid);
  release.resolve();
  const faults: string[] = [];
  let succeeded = 0;
  for (const { k, run } of runs) {
    const wrong = fault(await run, `${k}\n`, 1);
    if (wrong === undefined) succeeded++;
    else if (faults.length < 3) faults.push(wrong);
  }
  return {
    held: arrived,
    asked: runs.length,
    ...(why ? { why } : {}),
    perExecution: (full.pss - idle.pss) / Math.max(1, arrived),
    idle: idle.pss,
    full: full.pss,
    processes: `${idle.processes.length} → ${full.processes.length}`,
    holdMs,
    succeeded,
    faults,
  };
}

/** The section: each target on a server of its own, one after the other. */
export async function capacity(ctx: Ctx): Promise<Section> {
  const rows: string[][] = [];
  const results = new Map<Target["key"], Held>();
  for (const t of TARGETS) {
    const goal = ctx.quick ? Math.ceil(t.goal / 5) : t.goal;
    ctx.log(`capacity: ${t.label}: holding up to ${goal}`);
    await using server = await t.start();
    const r = await holdMany({ ...t, goal }, server, ctx.log);
    results.set(t.key, r);
    rows.push([
      t.label,
      `${r.held} of ${r.asked}${r.why ? ` (then: ${r.why})` : ""}`,
      mib(r.idle),
      mib(r.full),
      mib(r.perExecution),
      r.processes,
      `${(r.holdMs / 1000).toFixed(1)} s`,
      `${r.succeeded} of ${r.held}${r.faults.length ? ` (${r.faults.join("; ")})` : ""}`,
    ]);
  }
  const checks: Check[] = [];
  const check = (key: "ts" | "py", heldGoal: number, pssGoal: number) => {
    const r = results.get(key)!;
    const name = key === "ts" ? "TypeScript" : "Python";
    checks.push({
      group: "issue 18",
      what: `${name}: executions held at once`,
      wanted: `≥ ${heldGoal}`,
      measured: `${r.held}`,
      met: r.held >= heldGoal && r.succeeded === r.held,
      ...(r.held < heldGoal ? { why: r.why ?? `the harness asked for ${r.asked}` } : {}),
    });
    checks.push({
      group: "issue 18",
      what: `${name}: PSS per held execution`,
      wanted: `≤ ${pssGoal} MiB`,
      measured: `${mib(r.perExecution)} MiB`,
      met: r.perExecution <= pssGoal * 2 ** 20,
    });
  };
  if (!ctx.quick) {
    check("ts", 1000, 10);
    check("py", 150, 64);
  }
  return {
    title: "Executions held at once",
    description: "Each server fresh, with its defaults (ours: only `--tool-call-timeout` and " +
      "`--code-execution-timeout` raised to 600 s, so that executions can wait). Executions " +
      "are started in batches (TypeScript 100, Python 10, reference 6, echo 50), each calling " +
      "`echo(k)` once, k unique, and waiting; a batch counts once all its calls have arrived. " +
      "The run stops at the goal or at the first batch with a refusal, a failure or a call " +
      "that does not arrive within 60 s. Then (1 s later, the tree quiet) the PSS of the " +
      "server and all its descendants (/proc/<pid>/smaps_rollup), minus the same before the " +
      "first batch, divided by the executions held; every call is then answered, and each " +
      "execution must end in success printing its own k.",
    tables: [{
      head: [
        "server",
        "held at once",
        "idle tree PSS MiB",
        "held tree PSS MiB",
        "PSS MiB per held execution",
        "processes idle → held",
        "time to hold",
        "ended in success",
      ],
      rows,
    }],
    notes: notes(results),
    checks,
  };
}

/** What this run's numbers say about the targets it missed. */
function notes(results: Map<Target["key"], Held>): string[] {
  const out: string[] = [];
  const ts = results.get("ts");
  if (ts && ts.why) {
    out.push(
      `TypeScript stops at ${ts.held}: \`--max-concurrent\` defaults to the memory budget over ` +
        `10 MiB (what a TypeScript program is charged), so the next batch waits for a slot ` +
        `(${ts.why}). Raising it (or the budget) holds more: each held program costs ` +
        `${mib(ts.perExecution)} MiB.`,
    );
  }
  const py = results.get("py");
  if (py) {
    out.push(
      `Python holds ${py.held}: each held program costs ${mib(py.perExecution)} MiB, so the ` +
        `memory budget (half the memory available) fills near ${py.held}` +
        (py.why ? ` (then: ${py.why})` : "") +
        ". A held Python worker is a V8 isolate with Pyodide's JavaScript (~27 MiB of heap " +
        "pages with a 2 MiB young generation), the pages of its wasm memory the snapshot " +
        "filled (~14 MiB of 30), Pyodide's JavaScript source and standard library zip (~5 " +
        "MiB), and the runtime's own (docs/ARCHITECTURE.md, Python programs).",
    );
  }
  return out;
}
