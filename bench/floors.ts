/**
 * The `floors` section (issue 18): what Deno itself costs for what every TypeScript execution
 * and every tool call of ours needs beyond the echo, measured in this run
 * (`_floor_probe.ts`, outside any server), beside what our server spends per tool call. It
 * checks issue 18's TypeScript targets against the `throughput`, `cpu` and `round_trip`
 * sections of the same run and says, with these floors, why one is missed.
 *
 * @module
 */
import { median, ms, rate, ratio, treeCpu } from "./_lib.ts";
import { settle } from "./_servers.ts";
import { loop, measured, run } from "./_compare.ts";
import type { Check, Ctx, Section } from "./main.ts";

const PROBE = new URL("./_floor_probe.ts", import.meta.url).pathname;
const cores = navigator.hardwareConcurrency;

async function probe(args: string[]): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-worker-options", PROBE, ...args],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`_floor_probe.ts ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** CPU per tool call, ms: the server process's own and its descendants'. */
interface PerCall {
  own: number;
  descendants: number;
}

/** CPU per tool call of a server's tree: one execution of `calls` calls, after a quiet tree. */
async function cpuPerCall(
  ctx: Ctx,
  key: "ts" | "echo",
  calls: number,
): Promise<PerCall> {
  const server = await ctx.server(key === "ts" ? "ours" : "echo");
  await settle(server);
  const before = await treeCpu(server.pid);
  await run(server, loop(key, calls, 11), `floors: ${key}, ${calls} calls`);
  await settle(server);
  const after = await treeCpu(server.pid);
  // What one execution costs besides its calls (the cpu section's trivial execution).
  const start = measured().cpu[key];
  return {
    own: (after.own - before.own - (start?.own ?? 0)) / calls,
    descendants: (after.descendants - before.descendants - (start?.descendants ?? 0)) / calls,
  };
}

/** The `floors` section. */
export async function floors(ctx: Ctx): Promise<Section> {
  const rounds = ctx.quick ? 1 : 3;
  const workerCpu: number[] = [];
  const socket: number[] = [];
  const port: number[] = [];
  const perCall: Record<"ts" | "echo", PerCall[]> = { ts: [], echo: [] };
  for (let round = 0; round < rounds; round++) {
    ctx.log(`floors: round ${round + 1}/${rounds}`);
    workerCpu.push((await probe(["worker", String(ctx.n(200, 50))])).workerCpuMs!);
    const hops = await probe(["hops", String(ctx.n(2000, 400))]);
    socket.push(hops.socketUs!);
    port.push(hops.portUs!);
    perCall.ts.push(await cpuPerCall(ctx, "ts", 900));
    perCall.echo.push(await cpuPerCall(ctx, "echo", 900));
  }
  const f = {
    worker: median(workerCpu),
    socket: median(socket) / 1000,
    port: median(port) / 1000,
    ts: {
      own: median(perCall.ts.map((c) => c.own)),
      descendants: median(perCall.ts.map((c) => c.descendants)),
    },
    echo: median(perCall.echo.map((c) => c.own)),
  };
  return {
    title: "Floors",
    description: "What Deno itself costs, measured outside any server (bench/_floor_probe.ts): " +
      "the CPU of a permission-`none` worker started, given one message and terminated, one " +
      "after another (a TypeScript execution's fresh realm, with nothing of ours in it); the " +
      "round trip over a unix socket between two Deno processes and over a `MessagePort` to a " +
      "worker thread (the two hops a tool call takes beyond HTTP + SSE: server ⇄ host, relay ⇄ " +
      "program), medians. Beside them, the CPU per tool call of our server's tree and of the " +
      "echo: one execution of 900 calls, less the cpu section's trivial execution, over 900. " +
      `Medians of ${rounds} rounds.`,
    tables: [{
      head: ["floor", "measured"],
      rows: [
        ["CPU of a bare permission-`none` worker, ms", ms(f.worker)],
        ["unix socket round trip between two Deno processes, ms", ms(f.socket)],
        ["`MessagePort` round trip to a worker thread, ms", ms(f.port)],
        ["CPU per tool call, ours: server process, ms", ms(f.ts.own)],
        ["CPU per tool call, ours: sandbox host, ms", ms(f.ts.descendants)],
        ["CPU per tool call, the echo, ms", ms(f.echo)],
      ],
    }],
    notes: [],
    checks: checks(f),
  };
}

interface Floors {
  worker: number;
  socket: number;
  port: number;
  ts: PerCall;
  echo: number;
}

function checks(f: Floors): Check[] {
  const r = measured();
  const out: Check[] = [];
  const tput = r.throughput.get(8)?.ts;
  const cpu = r.cpu.ts;
  if (tput) {
    // Every execution needs a fresh worker and the server's own share of it, at the least.
    const ceiling = cpu ? (cores * 1000) / (f.worker + cpu.own) : NaN;
    const met = tput.rate >= 100;
    out.push({
      group: "issue 18",
      what: "TypeScript: throughput, 8 clients (issue 18)",
      wanted: "≥ 100/s",
      measured: `${rate(tput.rate)}/s`,
      met,
      ...met ? {} : {
        why:
          `${ms(tput.cpu)} ms of server CPU per execution (machine ${
            (tput.busy * 100).toFixed(0)
          }% busy); a bare permission-none worker alone costs ${ms(f.worker)} ms and the server ` +
          `process ${cpu ? ms(cpu.own) : "?"} ms per execution, so ${cores} cores cannot run ` +
          `more than ${rate(ceiling)}/s: ${
            ceiling < 100 ? "the target is below that floor" : "the rest is ours to cut"
          }`,
      },
    });
  }
  const ts = r.roundTrip.ts;
  const echo = r.roundTrip.echo;
  if (ts && echo) {
    const value = ts.p50 / echo.p50;
    const floor = (echo.p50 + f.socket + f.port) / echo.p50;
    const met = value <= 3;
    out.push({
      group: "issue 18",
      what: "TypeScript: tool-call round trip p50 / echo p50 (issue 18)",
      wanted: "≤ 3×",
      measured: `${ratio(value)} (${ms(ts.p50)} vs ${ms(echo.p50)} ms)`,
      met,
      ...met ? {} : {
        why: `the two hops beyond the echo cost ${ms(f.socket + f.port)} ms (a floor of ` +
          `${ratio(floor)}); the rest is per-call work: ${ms(f.ts.own)} ms of CPU in our server ` +
          `process and ${ms(f.ts.descendants)} ms in the sandbox host per call, against ${
            ms(f.echo)
          } ms for the echo`,
      },
    });
  }
  return out;
}
