/**
 * The `latency` section of the comparison (issue 8): trivial executions back to back (p50, p95),
 * and each after an idle pause.
 *
 * @module
 */
import { median, ms, percentile, sleep } from "./_lib.ts";
import { settle } from "./_servers.ts";
import { type Key, results, run, targets, trivial } from "./_compare.ts";
import type { Ctx, Section } from "./main.ts";

/** The `latency` section. */
export async function latency(ctx: Ctx): Promise<Section> {
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
