/**
 * Event-loop stalls: how long the server takes to answer `/ping` (polled back to back) while one
 * heavy request is in flight: a program at the size limit, one over it, 10 MB tool results of
 * small objects and of numbers, a step request with 10 MB of results, a signed state token that
 * inflates to 2 GiB, and a thousand idle connections. Each request body is built before the
 * probe starts, so the client's own work does not count.
 *
 * @module
 */
import { median, ms, sleep } from "./_lib.ts";
import type { Server } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";
// The attacker's side of a token bomb: no server code.
import { deflatedZeros, mint } from "../tests/security/_forged_tokens.ts";

/** The slowest `/ping` while `work` runs. */
async function probe(server: Server, work: () => Promise<string>) {
  let stop = false;
  let max = 0;
  const pings: number[] = [];
  const prober = (async () => {
    while (!stop) {
      const t = performance.now();
      await (await fetch(`${server.url}/ping`)).arrayBuffer();
      const dt = performance.now() - t;
      pings.push(dt);
      max = Math.max(max, dt);
    }
  })();
  await sleep(100);
  const started = performance.now();
  const status = await work();
  const took = performance.now() - started;
  await sleep(100);
  stop = true;
  await prober;
  return { status, took, max, median: median(pings) };
}

function post(server: Server, path: string, body: string): Promise<string> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "x-progtc-api-key": server.apiKey, "content-type": "application/json" },
    body,
  }).then(async (r) => {
    const text = await r.text();
    return `${r.status} ${text.match(/"code":"(\w+)"/)?.[1] ?? (r.ok ? "" : text.slice(0, 40))}`
      .trim();
  });
}

/** The stalls section. */
export async function stalls(ctx: Ctx): Promise<Section> {
  const server = await ctx.server("ours");
  const line = `const x = { a: 1, b: "a string", c: [1, 2, 3] }; // a comment\n`;
  const objects = `[${Array(1_300_000).fill('{"a":1}').join(",")}]`;
  const numbers = `[${Array(4_900_000).fill("1").join(",")}]`;
  const bomb = await mint(server.apiKey, await deflatedZeros(2 * 2 ** 30));
  const cases: [string, () => Promise<string>][] = [
    ["nothing (the probe alone)", () => sleep(1000).then(() => "")],
    [
      "a 1 MiB program (the limit)",
      () => {
        const code = line.repeat(Math.floor(1_040_000 / line.length));
        return post(server, "/execute-code", JSON.stringify({ code, tool_names: [] }));
      },
    ],
    [
      "a 10 MB program",
      () => {
        const code = line.repeat(Math.floor(10_000_000 / line.length));
        return post(server, "/execute-code", JSON.stringify({ code, tool_names: [] }));
      },
    ],
    [
      "a 10 MB tool result of small objects",
      () =>
        post(
          server,
          "/tool-results",
          `{"execution_id":"x","tool_call_id":"y","result":${objects}}`,
        ),
    ],
    [
      "a 10 MB tool result of numbers",
      () =>
        post(
          server,
          "/tool-results",
          `{"execution_id":"x","tool_call_id":"y","result":${numbers}}`,
        ),
    ],
    [
      "a step with 10 MB of results",
      () =>
        post(
          server,
          "/execute-code-step",
          `{"code":"1","tool_names":[],"tool_results":[${objects}]}`,
        ),
    ],
    [
      `a signed state token (${(bomb.length / 2 ** 20).toFixed(1)} MiB) that inflates to 2 GiB`,
      () =>
        post(
          server,
          "/execute-code-step",
          JSON.stringify({ code: "1", tool_names: ["a"], state: bomb, tool_results: [1] }),
        ),
    ],
    [
      "1000 connections opened and left idle",
      async () => {
        const port = Number(new URL(server.url).port);
        const conns: Deno.TcpConn[] = [];
        for (let i = 0; i < 1000; i++) {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        }
        await sleep(200);
        for (const conn of conns) conn.close();
        return "opened";
      },
    ],
  ];
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const [what, work] of cases) {
    ctx.log(`stalls: ${what}`);
    const result = await probe(server, work);
    rows.push([what, result.status, ms(result.took), ms(result.median), ms(result.max)]);
    checks.push({
      group: "stalls",
      what: `event loop while the server handles ${what}: slowest /ping`,
      wanted: "≤ 50 ms",
      measured: `${ms(result.max)} ms`,
      met: result.max <= 50,
    });
  }
  return {
    title: "Event-loop stalls",
    description: "The server's answer time to `/ping`, polled back to back on one connection, " +
      "while one heavy request is in flight (its body built beforehand). Ours, default options.",
    tables: [{
      head: ["request", "answer", "request ms", "ping p50 ms", "ping max ms"],
      rows,
      left: [0, 1],
    }],
    notes: [
      "Bodies over 512 KiB are parsed in a worker, and their tool results forwarded as JSON " +
      "text; a program over 1 MiB is refused before it is parsed; a token is inflated into at " +
      "most --max-state-bytes.",
    ],
    checks,
  };
}
