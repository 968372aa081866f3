/**
 * The `throughput` section of the comparison (issue 8): executions/s of a program of one tool
 * call with 1, 8 and 32 concurrent clients, and what the server's tree and the machine spent.
 *
 * @module
 */
import { execute, fault } from "./_client.ts";
import { median, ms, rate, selfCpu, sleep, systemCpu, treeCpu } from "./_lib.ts";
import { settle } from "./_servers.ts";
import {
  CLIENTS,
  type Key,
  loop,
  results,
  type Target,
  targets,
  type Throughput,
} from "./_compare.ts";
import type { Ctx, Section } from "./main.ts";

const cores = navigator.hardwareConcurrency;

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

/** The `throughput` section. */
export async function throughput(ctx: Ctx): Promise<Section> {
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
