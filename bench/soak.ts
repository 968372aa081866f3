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
import { mib, seededRandom, sleep, treeMemory } from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";
import { COLLATERAL, type Scenario, scenario, SCENARIOS } from "./soak_scenarios.ts";

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

interface Tally {
  runs: number;
  ok: number;
  /** Ended by a neighbour's kill, with the frame that says so. */
  collateral: number;
  faults: Map<string, number>;
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
