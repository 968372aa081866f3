/**
 * The `round_trip` section of the comparison (issue 8): the gap between consecutive tool-call
 * frames of one execution of sequential calls, against the echo's.
 *
 * @module
 */
import { median, ms, percentile, ratio } from "./_lib.ts";
import { settle } from "./_servers.ts";
import { type Key, loop, results, run, targets } from "./_compare.ts";
import type { Ctx, Section } from "./main.ts";

/** The `round_trip` section. */
export async function roundTrip(ctx: Ctx): Promise<Section> {
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
