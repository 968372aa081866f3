/**
 * Sandbox hosts and their pool (issues 8, 18): a host runs programs one after another and
 * several at once, up to `--host-max-programs`, until a bound retires it (runs, age); a burst
 * starts the hosts it needs, and unneeded ones go after their idle timeout; no sandbox process
 * outlives what the pool holds. Real servers, real sandbox processes.
 *
 * @module
 */
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  alive,
  assertOnlyPoolHosts,
  childrenOf,
  delay,
  startServer,
  type TestServer,
  waitFor,
} from "./_helpers.ts";
import { spawnServer } from "./_process.ts";

/** The pid of the host that ran a program (the program prints it). */
async function hostOf(t: TestServer, code = ""): Promise<number> {
  const result = await t.client.executeCode({ code: `${code}\nconsole.log(Deno.pid);`, tools: {} });
  strictEqual(result.type, "success", result.stderr);
  return Number(result.stdout.trim().split("\n").at(-1));
}

Deno.test("a host runs programs one after another, and a new one after --host-max-runs", async () => {
  await using t = await startServer({ poolSize: 0, hostMaxRuns: 3 });
  const pids = [];
  for (let i = 0; i < 4; i++) pids.push(await hostOf(t));
  deepStrictEqual(pids.slice(0, 3), [pids[0], pids[0], pids[0]]);
  notStrictEqual(pids[3], pids[0]);
  ok(t.logs.some((line) => / run 3$/.test(line)), t.logs.join("\n"));
  await assertOnlyPoolHosts(t);
});

Deno.test("--host-max-runs 1 gives every program a new sandbox process", async () => {
  await using t = await startServer({ poolSize: 1, hostMaxRuns: 1 });
  const pids = [await hostOf(t), await hostOf(t), await hostOf(t)];
  strictEqual(new Set(pids).size, 3, `${pids}`);
  await assertOnlyPoolHosts(t);
});

Deno.test("a host older than --host-max-age takes no more programs", async () => {
  await using t = await startServer({ poolSize: 0, hostMaxAgeMs: 300 });
  const first = await hostOf(t);
  strictEqual(await hostOf(t), first);
  await delay(400);
  // The program that finds it too old still runs in it; its end retires the host.
  strictEqual(await hostOf(t), first);
  notStrictEqual(await hostOf(t), first);
  await assertOnlyPoolHosts(t);
});

/** Runs `n` programs at once, each waiting until all have called; their hosts' pids. */
async function burst(t: TestServer, n: number): Promise<number[]> {
  let arrived = 0;
  const all = Promise.withResolvers<void>();
  const meet = () => {
    if (++arrived === n) all.resolve();
    return all.promise;
  };
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      t.client.executeCode({
        code: `import { meet } from "tools"; await meet(); console.log(Deno.pid);`,
        tools: { meet },
      })),
  );
  for (const result of results) strictEqual(result.type, "success", result.stderr);
  return results.map((r) => Number(r.stdout.trim()));
}

Deno.test("a host runs up to --host-max-programs programs at once, each in a worker of its own", async () => {
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 4 });
  const pids = await burst(t, 8);
  const perHost = new Map<number, number>();
  for (const pid of pids) perHost.set(pid, (perHost.get(pid) ?? 0) + 1);
  // Eight programs held at once on hosts of four slots: at least two hosts, none over four.
  ok(perHost.size >= 2, JSON.stringify([...perHost]));
  for (const [pid, count] of perHost) ok(count <= 4, `host ${pid} ran ${count} at once`);
  ok([...perHost.values()].some((count) => count > 1), "no host ran two programs at once");
  await assertOnlyPoolHosts(t);
});

Deno.test("after a burst the pool keeps the hosts it started, and retires what it no longer needs", async () => {
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 2, hostIdleTimeoutMs: 1000 });
  const runner = t.server.app.runner;
  // Eight programs at once on hosts of two slots: four hosts at least.
  const pids = [...new Set(await burst(t, 8))];
  ok(pids.length >= 4, `${pids}`);
  // Right after the burst the hosts are ready again (kept, not respawned).
  await waitFor("the hosts are free again", () => runner.stats("deno").programs === 0);
  for (const pid of pids) ok(runner.pids("deno").includes(pid), `host ${pid} was not kept`);
  await assertOnlyPoolHosts(t);
  // Once unused for longer than the idle timeout, the pool keeps its size and retires the rest.
  await waitFor("the pool is back to its size", () => runner.pids("deno").length === 1, 6000);
  await assertOnlyPoolHosts(t);
});

Deno.test("no sandbox process outlives its execution: after each kind of end the children are the pool's", async () => {
  await using t = await startServer({ poolSize: 1, codeExecutionTimeoutMs: 1000 });
  const ends = [
    `console.log(1)`,
    `throw new Error("x")`,
    `Deno.exit(3)`,
    `while (true) {}`,
    `setTimeout(() => { for (;;) {} }, 0)`,
    `let s = "x"; while (true) s += s;`,
  ];
  for (const code of ends) {
    const result = await t.client.executeCode({ code, tools: {} });
    ok(
      result.type !== "success" || code === ends[0] || code === ends[4],
      `${code}: ${result.type}`,
    );
    await assertOnlyPoolHosts(t);
  }
});

Deno.test("when the server is killed (SIGKILL), its sandbox hosts end by themselves", async () => {
  await using server = await spawnServer(["--pool-size", "2"]);
  const result = await server.client.executeCode({ code: "console.log(1)", tools: {} });
  strictEqual(result.type, "success");
  const hosts = childrenOf(server.pid);
  ok(hosts.length >= 2, `hosts: ${hosts}`);
  server.process.child.kill("SIGKILL");
  await server.process.exit();
  await waitFor("the orphaned hosts end", () => hosts.every((pid) => !alive(pid)), 5000);
});
