/**
 * Load test: many concurrent executions × several sequential tool calls, each answered after a
 * random (seeded) delay, against a server of ours in its own process. Every stream is read to
 * its end and checked frame by frame: HTTP 200 and an event stream, exactly one terminal frame
 * and nothing after it, every call at the client whose program made it (its arguments name the
 * execution), in order, once, every `/tool-results` answered 200, and the exact stdout. Memory
 * of the server's process tree is read from /proc before, during and after.
 *
 * @module
 */
import { execute, type Run, type ToolCall } from "./_client.ts";
import {
  median,
  mib,
  ms,
  percentile,
  processMemory,
  seededRandom,
  sleep,
  treeMemory,
} from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";

const CALLS = 10;
const MAX_DELAY_MS = 50;
const SEED = 20261126;
const FLAGS = ["--max-concurrent", "256", "--pool-size", "4"];

const answerOf = (who: number, k: number) => `e${who}c${k}:${(who * 7919 + k * 104729) % 1000003}`;

function program(index: number): string {
  return `import { step } from "tools";\nconst results = [];\n` +
    `for (let k = 0; k < ${CALLS}; k++) results.push(await step(${index}, k));\n` +
    `console.log(JSON.stringify(results));\n`;
}

/** Everything wrong with execution `index`'s stream (empty when nothing). */
function faults(run: Run, index: number): string[] {
  const out = new Set<string>(run.problems.map((p) => p.split(":")[0]!));
  if (run.status !== 200) out.add(`HTTP ${run.status}`);
  if (run.terminals !== 1) {
    out.add(run.terminals === 0 ? "no terminal frame" : "several terminal frames");
  }
  if (run.afterTerminal > 0) out.add("frames after the terminal one");
  const ids = new Set(run.calls.map((c) => c.execution_id));
  if (ids.size > 1) out.add("calls of several executions");
  run.calls.forEach((call, i) => {
    const [who, k] = call.args as number[];
    if (call.tool_name !== "step" || who !== index) out.add("misrouted call");
    else if (k !== i) {
      out.add(
        run.calls.slice(0, i).some((c) => c.args[1] === k) ? "duplicate call" : "call out of order",
      );
    }
  });
  if (run.calls.length < CALLS) out.add("missing call");
  const expected = JSON.stringify(Array.from({ length: CALLS }, (_, k) => answerOf(index, k))) +
    "\n";
  if (run.terminal && run.terminal.type !== "success") out.add(`terminal ${run.terminal.type}`);
  else if (run.terminal && run.terminal.stdout !== expected) out.add("stdout mismatch");
  return [...out];
}

async function round(server: Server, executions: number, seed: number) {
  const random = seededRandom(seed);
  let sampling = true;
  let peakRss = 0;
  let peakProcesses = 0;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, (await processMemory(server.pid))?.rss ?? 0);
      peakProcesses = Math.max(peakProcesses, (await treeMemory(server.pid)).processes.length);
      await sleep(250);
    }
  })();
  const answer = async (call: ToolCall) => {
    await sleep(random() * MAX_DELAY_MS);
    const [who, k] = call.args as number[];
    return answerOf(who!, k!);
  };
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: executions }, async (_, index) => {
    try {
      return await execute(server, { code: program(index), tool_names: ["step"] }, answer);
    } catch (error) {
      return { error: String(error) };
    }
  }));
  const wall = performance.now() - started;
  sampling = false;
  await sampler;
  const counts = new Map<string, number>();
  const latencies: number[] = [];
  let clean = 0;
  const ids: string[] = [];
  runs.forEach((run, index) => {
    const list = "error" in run ? [`client error: ${run.error.slice(0, 80)}`] : faults(run, index);
    if (!("error" in run)) {
      latencies.push(run.ended - run.started);
      if (run.calls[0]) ids.push(run.calls[0].execution_id);
    }
    if (list.length === 0) clean++;
    for (const f of list) counts.set(f, (counts.get(f) ?? 0) + 1);
  });
  const reused = ids.length - new Set(ids).size;
  if (reused > 0) counts.set("execution id reused", reused);
  const faultText = [...counts].map(([f, n]) => `${f} ×${n}`).join(", ") || "none";
  return { clean, faultText, wall, latencies, peakRss, peakProcesses };
}

/** The load-test section. */
export async function loadTest(ctx: Ctx): Promise<Section> {
  const executions = ctx.n(200, 40);
  const rounds = ctx.quick ? 1 : 2;
  ctx.log(`load_test: starting ours with ${FLAGS.join(" ")}`);
  await using server = await startOurs(FLAGS, "ours (load test)");
  await settle(server);
  // What the server says of its connections (one cut, an internal error) explains a fault.
  const connectionLines: string[] = [];
  server.onLine((line) => {
    if (/connections:|internal error/.test(line) && connectionLines.length < 10) {
      connectionLines.push(line.slice(0, 300));
    }
  });
  const processes: number[] = [];
  const snapshot = async (when: string) => {
    const tree = await treeMemory(server.pid);
    processes.push(tree.processes.length);
    return [when, mib(tree.processes[0]?.rss ?? NaN), mib(tree.pss), `${tree.processes.length}`];
  };
  const memoryRows = [await snapshot("idle, before")];
  const rows: string[][] = [];
  const checks: Check[] = [];
  const peaks: string[] = [];
  for (let r = 1; r <= rounds; r++) {
    ctx.log(
      `load_test: round ${r}/${rounds}: ${executions} executions × ${CALLS} tool calls at once`,
    );
    const result = await round(server, executions, SEED + r);
    await settle(server);
    await sleep(3000);
    memoryRows.push(await snapshot(`after round ${r} (quiet, then 3 s)`));
    peaks.push(
      `round ${r}: server RSS ${
        mib(result.peakRss)
      } MiB, ${result.peakProcesses} processes in its tree`,
    );
    rows.push([
      `${r}`,
      `${executions}`,
      `${result.clean}`,
      result.faultText,
      ms(result.wall),
      (executions / (result.wall / 1000)).toFixed(1),
      ((executions * CALLS) / (result.wall / 1000)).toFixed(0),
      ms(median(result.latencies)),
      ms(percentile(result.latencies, 99)),
    ]);
    checks.push({
      group: "load test",
      what: `load test round ${r}: ${executions} × ${CALLS} calls, none lost, duplicated or ` +
        "misrouted, one terminal frame each, exact stdout",
      wanted: `${executions} of ${executions}`,
      measured: `${result.clean} of ${executions} (faults: ${result.faultText})`,
      met: result.clean === executions,
    });
  }
  return {
    title: "Load test",
    description: `${executions} executions started at once against ours in its own process ` +
      `(\`${FLAGS.join(" ")}\`), each making ${CALLS} sequential tool calls answered after a ` +
      `random 0–${MAX_DELAY_MS} ms delay (seeded); ${rounds} round${rounds > 1 ? "s" : ""}. ` +
      "Every stream is read to its end and checked frame by frame; every stdout is compared with " +
      "the exact expected text.",
    tables: [{
      head: [
        "round",
        "executions",
        "fully correct",
        "faults",
        "wall ms",
        "executions/s",
        "tool calls/s",
        "latency p50 ms",
        "latency p99 ms",
      ],
      rows,
      left: [3],
    }, {
      head: ["server", "server process RSS MiB", "tree PSS MiB", "processes in tree"],
      rows: memoryRows,
    }],
    notes: [
      "Latency is per execution, from its POST to its terminal frame.",
      `Peaks during the load (sampled every 250 ms): ${peaks.join("; ")}.`,
      ...processes.at(-1)! < processes[0]!
        ? [
          `The server's tree had ${processes[0]} processes idle before the load and ` +
          `${processes.at(-1)} once quiet after it: not all of its warm sandboxes were ` +
          "replaced after the burst.",
        ]
        : [],
      ...connectionLines.length > 0
        ? [`The server's lines about its connections: ${connectionLines.join(" / ")}`]
        : [],
    ],
    checks,
  };
}
