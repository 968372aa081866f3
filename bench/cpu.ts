/**
 * The `cpu` section of the comparison (issue 8): CPU per trivial execution of each server, its
 * process and all its descendants, from /proc.
 *
 * @module
 */
import { ms, treeCpu } from "./_lib.ts";
import { settle } from "./_servers.ts";
import { type Key, results, run, targets, trivial } from "./_compare.ts";
import type { Ctx, Section } from "./main.ts";

/** The `cpu` section. */
export async function cpu(ctx: Ctx): Promise<Section> {
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
