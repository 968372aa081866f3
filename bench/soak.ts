/**
 * Soak: mixed load with faults injected, for ten minutes (30 s with --quick), against ours in its
 * own process. Eight client loops each pick a scenario at random (seeded) and check its outcome:
 *
 * - `normal`: three tool calls, exact stdout.
 * - `python`: the same in Python.
 * - `vanish`: the client drops the event stream at the first tool call.
 * - `kill`: the program passes its sandbox's pid to a tool, and the client SIGKILLs that process:
 *   exactly one `runtime_error` saying the sandbox stopped.
 * - `timeout`: the tool answers after the per-call timeout (1 s); the program sees TimeoutError.
 * - `step`: three steps; each step is sent twice (a retry: the same calls must come back), and
 *   sometimes a fork with other results is sent and dropped.
 * - `unread`: the program prints 4 MiB of control characters (24 MiB once JSON-escaped, 4 MiB
 *   kept) and the client never reads its stream: the server must end it by itself (complete in
 *   the kernel's buffers, or cut after `--unread-stream-timeout`).
 * - `batch`: a step whose program calls a tool 100 times at once with 400 KB each: the answer
 *   carries the calls that fit 16 MiB, the others fail in the program.
 *
 * A host runs several programs: a `kill` ends the others on its host too, each with a frame that
 * says so (expected: counted apart). Every stream that the client did not drop must end with
 * exactly one terminal frame. Afterwards,
 * once the server is quiet, its process tree must be back to its idle size and its RSS near idle.
 *
 * @module
 */
import {
  drain,
  type Endpoint,
  execute,
  type Run,
  step as postStep,
  type ToolCall,
  unreadExecution,
} from "./_client.ts";
import { mib, seededRandom, sleep, treeMemory } from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";

const FLAGS = [
  "--tool-call-timeout",
  "1",
  "--host-idle-timeout",
  "5",
  "--pool-size",
  "2",
  "--unread-stream-timeout",
  "3",
];
const LOOPS = 8;
const SEED = 20261201;
const SCENARIOS = [
  "normal",
  "normal",
  "python",
  "vanish",
  "kill",
  "timeout",
  "step",
  "unread",
  "batch",
] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Tally {
  runs: number;
  ok: number;
  /** Ended by a neighbour's kill, with the frame that says so. */
  collateral: number;
  faults: Map<string, number>;
}

/**
 * A host SIGKILLed by the `kill` scenario ends every program on it: each of the others gets
 * one frame that says so. That is the blast radius of shared hosts, expected, counted apart.
 */
const NEIGHBOUR =
  /the sandbox stopped unexpectedly \(signal SIGKILL\) \(with the \d+ other programs? it ran\)/;
const COLLATERAL = "collateral";

/** Whether a terminal frame or step answer is a neighbour's kill. */
const collateral = (end: Record<string, unknown> | undefined) =>
  end?.type === "runtime_error" && NEIGHBOUR.test(String(end.stderr));

const THREE = `import { t } from "tools";
let s = "";
for (let i = 0; i < 3; i++) s += await t(i);
console.log(s);`;
const THREE_PY = `from tools import t
s = ""
for i in range(3):
    s += await t(i)
print(s)`;

const FLOOD = `console.log("\\u0001".repeat(4 * 1024 * 1024));`;

const BATCH = `import { t } from "tools";
const big = "b".repeat(400_000);
const settled = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => t(i, big)));
console.log(settled.filter((s) => s.status === "fulfilled").length);`;

/** One scenario's run; why it is wrong, or undefined. */
async function scenario(server: Endpoint, kind: Scenario, random: () => number) {
  switch (kind) {
    case "normal":
    case "python": {
      const body = kind === "python"
        ? { code: THREE_PY, tool_names: ["t"], language: "python" }
        : { code: THREE, tool_names: ["t"] };
      const run = await execute(server, body, (call) => `r${call.args[0]}`);
      return check(run, "success", "r0r1r2\n");
    }
    case "vanish": {
      const abort = new AbortController();
      const response = await fetch(`${server.url}/execute-code`, {
        method: "POST",
        headers: { "x-progtc-api-key": server.apiKey, "content-type": "application/json" },
        body: JSON.stringify({ code: THREE, tool_names: ["t"] }),
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read().catch(() => {});
      abort.abort();
      await reader.cancel().catch(() => {});
      return response.status === 200 ? undefined : `HTTP ${response.status}`;
    }
    case "kill": {
      const code = `import { t } from "tools"; await t(Deno.pid); console.log("not reached");`;
      const run = await execute(server, { code, tool_names: ["t"] }, async (call: ToolCall) => {
        try {
          Deno.kill(Number(call.args[0]), "SIGKILL");
        } catch {
          // Gone already.
        }
        await sleep(50);
        return null;
      });
      // The result may still reach the dying sandbox's execution: its 404/409 is expected.
      run.problems = run.problems.filter((p) => !/^\/tool-results (404|409|200)/.test(p));
      const why = check(run, "runtime_error");
      if (why) return why;
      return /the sandbox stopped unexpectedly \(signal SIGKILL\)/.test(run.terminal!.stderr)
        ? undefined
        : `stderr ${JSON.stringify(run.terminal!.stderr.slice(0, 120))}`;
    }
    case "timeout": {
      const code = `import { t } from "tools";
try { await t(); } catch (e) { console.log(e.name); }`;
      const run = await execute(server, { code, tool_names: ["t"] }, async () => {
        await sleep(1300);
        return "late";
      });
      return check(run, "success", "TimeoutError\n");
    }
    case "unread": {
      const conn = await unreadExecution(server, FLOOD);
      try {
        // The server's cut comes 3 s after the end; a complete response sat in the kernel.
        await sleep(4000);
        const end = await drain(conn, 5000);
        return end === "open" ? "the server left an unread stream open" : undefined;
      } finally {
        conn.close();
      }
    }
    case "batch": {
      const first = await postStep(server, { code: BATCH, tool_names: ["t"] });
      if (collateral(first)) return COLLATERAL;
      if (first.type !== "tool_call") return `batch: ${kindOf(first)}`;
      const calls = first.tool_calls as unknown[];
      const bytes = new TextEncoder().encode(JSON.stringify(calls)).byteLength;
      if (calls.length !== 41 || bytes > 16 * 2 ** 20) {
        return `batch of ${calls.length}, ${bytes} B`;
      }
      const last = await postStep(server, {
        code: BATCH,
        tool_names: ["t"],
        state: first.state,
        tool_results: calls.map(() => "ok"),
      });
      if (collateral(last)) return COLLATERAL;
      return last.type === "success" && last.stdout === "41\n" ? undefined : `end ${kindOf(last)}`;
    }
    case "step": {
      const code = THREE;
      let answer = await postStep(server, { code, tool_names: ["t"] });
      if (collateral(answer)) return COLLATERAL;
      while (answer.type === "tool_call") {
        const calls = answer.tool_calls as { args: unknown[] }[];
        const body = {
          code,
          tool_names: ["t"],
          state: answer.state,
          tool_results: calls.map((c) => `r${c.args[0]}`),
        };
        if (random() < 0.3) {
          // A fork: other results, whose continuation is dropped.
          await postStep(server, { ...body, tool_results: calls.map(() => "fork") });
        }
        const first = await postStep(server, body);
        const retry = await postStep(server, body);
        if (collateral(first) || collateral(retry)) return COLLATERAL;
        if (JSON.stringify(callsOf(first)) !== JSON.stringify(callsOf(retry))) {
          return `a retried step gave other calls (${kindOf(first)}, then ${kindOf(retry)})`;
        }
        answer = retry;
      }
      if (answer.type !== "success" || answer.stdout !== "r0r1r2\n") {
        return `step end ${JSON.stringify(answer).slice(0, 160)}`;
      }
      return undefined;
    }
  }
}

/** An answer's type, and the start of its error if it has one. */
function kindOf(answer: Record<string, unknown>): string {
  const stderr = typeof answer.stderr === "string" ? answer.stderr.trim().slice(0, 80) : "";
  return stderr ? `${answer.type}: ${stderr}` : String(answer.type);
}

function callsOf(answer: Record<string, unknown>) {
  if (answer.type !== "tool_call") return answer;
  return (answer.tool_calls as { tool_name: string; args: unknown[] }[])
    .map((c) => [c.tool_name, c.args]);
}

function check(run: Run, type: string, stdout?: string): string | undefined {
  if (run.status !== 200) return `HTTP ${run.status}`;
  if (run.problems.length > 0) return run.problems[0]!.slice(0, 120);
  if (run.terminals !== 1) return `${run.terminals} terminal frames`;
  if (run.afterTerminal > 0) return "frames after the terminal one";
  if (type !== "runtime_error" && collateral(run.terminal)) return COLLATERAL;
  if (run.terminal!.type !== type) {
    return `${run.terminal!.type}: ${run.terminal!.stderr.slice(0, 100)}`;
  }
  if (stdout !== undefined && run.terminal!.stdout !== stdout) {
    return `stdout ${JSON.stringify(run.terminal!.stdout.slice(0, 60))}`;
  }
  return undefined;
}

async function quietTree(server: Server) {
  await settle(server);
  await sleep(8000); // Past --host-idle-timeout: extra ready hosts retire.
  await settle(server);
  const tree = await treeMemory(server.pid);
  return { processes: tree.processes.length, rss: tree.processes[0]?.rss ?? NaN, pss: tree.pss };
}

/** The soak section. */
export async function soak(ctx: Ctx): Promise<Section> {
  const seconds = ctx.quick ? 30 : 600;
  ctx.log(`soak: ${seconds} s of mixed load with faults, ours with ${FLAGS.join(" ")}`);
  await using server = await startOurs(FLAGS, "ours (soak)");
  // Warm up every kind once, so that idle includes a Python host and the JIT's code.
  for (const kind of ["normal", "python", "step"] as const) {
    const why = await scenario(server, kind, () => 1);
    if (why) throw new Error(`soak warm-up ${kind}: ${why}`);
  }
  const idle = await quietTree(server);
  const tallies = new Map<Scenario, Tally>(
    SCENARIOS.map((s) => [s, { runs: 0, ok: 0, collateral: 0, faults: new Map() }]),
  );
  const deadline = performance.now() + seconds * 1000;
  let peakRss = 0;
  let peakProcesses = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const tree = await treeMemory(server.pid);
      peakRss = Math.max(peakRss, tree.processes[0]?.rss ?? 0);
      peakProcesses = Math.max(peakProcesses, tree.processes.length);
      await sleep(1000);
    }
  })();
  await Promise.all(Array.from({ length: LOOPS }, async (_, loop) => {
    const random = seededRandom(SEED + loop);
    while (performance.now() < deadline) {
      const kind = SCENARIOS[Math.floor(random() * SCENARIOS.length)]!;
      const tally = tallies.get(kind)!;
      tally.runs++;
      let why: string | undefined;
      try {
        why = await scenario(server, kind, random);
      } catch (error) {
        why = `client error: ${String(error).slice(0, 100)}`;
      }
      if (why === undefined) tally.ok++;
      else if (why === COLLATERAL) tally.collateral++;
      else tally.faults.set(why, (tally.faults.get(why) ?? 0) + 1);
    }
  }));
  sampling = false;
  await sampler;
  ctx.log("soak: quiet after the load");
  const after = await quietTree(server);

  const rows = [...tallies].map(([kind, t]) => [
    kind,
    `${t.runs}`,
    `${t.ok}`,
    `${t.collateral}`,
    [...t.faults].map(([f, n]) => `${f} ×${n}`).join("; ") || "none",
  ]);
  const total = [...tallies.values()].reduce((s, t) => s + t.runs, 0);
  const ok = [...tallies.values()].reduce((s, t) => s + t.ok + t.collateral, 0);
  const rssGrowth = after.rss - idle.rss;
  const checks: Check[] = [
    {
      group: "soak",
      what: `soak: every execution as expected (one terminal frame each, the fault's own outcome)`,
      wanted: `${total} of ${total}`,
      measured: `${ok} of ${total}`,
      met: ok === total,
    },
    {
      group: "soak",
      what: "soak: afterwards, the server's process tree is back to its idle size",
      wanted: `≤ ${idle.processes} processes`,
      measured: `${after.processes} (peak ${peakProcesses})`,
      met: after.processes <= idle.processes,
    },
    {
      group: "soak",
      what: "soak: afterwards, the server's RSS is near idle",
      wanted: `≤ idle + 64 MiB (${mib(idle.rss + 64 * 2 ** 20)} MiB)`,
      measured: `${mib(after.rss)} MiB (idle ${mib(idle.rss)}, peak ${mib(peakRss)})`,
      met: rssGrowth <= 64 * 2 ** 20,
    },
  ];
  return {
    title: "Soak",
    description:
      `${seconds} s of mixed load against ours in its own process (\`${
        FLAGS.join(" ")
      }\`): ${LOOPS} client loops, each running scenarios picked at random (seeded): normal ` +
      "(3 tool calls), Python, a client that drops the stream at the first call, a sandbox " +
      "SIGKILLed from outside (the program hands its pid to the tool), a tool that answers " +
      "after the call timeout, step executions whose every step is retried and sometimes " +
      "forked, a client that never reads a stream of 4 MiB of control characters, and a step " +
      "whose batch is larger than one answer may carry. Idle is measured after a warm-up of " +
      "each kind, once quiet.",
    tables: [{
      head: ["scenario", "runs", "as expected", "ended by a neighbour's kill", "faults"],
      rows,
      left: [0, 4],
    }, {
      head: ["when", "processes in tree", "server RSS MiB", "tree PSS MiB"],
      rows: [
        ["idle, before", `${idle.processes}`, mib(idle.rss), mib(idle.pss)],
        ["peak during (sampled every 1 s)", `${peakProcesses}`, mib(peakRss), ""],
        ["after, quiet", `${after.processes}`, mib(after.rss), mib(after.pss)],
      ],
    }],
    notes: [
      "A dropped stream has no terminal frame to check; the server ends its execution and kills " +
      "its sandbox, which the process count afterwards shows.",
      "A host runs several programs: the `kill` scenario's SIGKILL ends the others on its host " +
      'too, each with one frame that says so ("with the N other programs it ran"); they count ' +
      "as expected, in their own column (`--host-max-programs 1` would confine it).",
    ],
    checks,
  };
}
