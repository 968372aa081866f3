/**
 * The `memory` section of the comparison (issue 8): PSS of a server's tree per execution held
 * on a tool call.
 *
 * @module
 */
import type { ToolCall } from "./_client.ts";
import { mib, sleep, treeMemory } from "./_lib.ts";
import { settle } from "./_servers.ts";
import { loop, results, run, targets, trivial } from "./_compare.ts";
import type { Ctx, Section } from "./main.ts";

/** The `memory` section. */
export async function memory(ctx: Ctx): Promise<Section> {
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
