/**
 * One-off measurement: the idle footprint of a fresh server with the defaults (`deno task
 * serve`, no request), RSS and PSS of the server and all its descendants, once its tree is
 * quiet. Run: `deno run --allow-all bench/idle_footprint.ts` (a few seconds; not part of
 * `deno task bench`); with `--after-python`, once more after one Python program (what Python
 * on demand saves until then).
 *
 * @module
 */
import { execute, expectSuccess } from "./_client.ts";
import { mib, treeMemory } from "./_lib.ts";
import { settle, startOurs } from "./_servers.ts";

if (import.meta.main) {
  await using server = await startOurs([], "ours (idle footprint)");
  await settle(server, 1000, 30_000);
  if (Deno.args.includes("--after-python")) {
    const body = { code: "print(1)", tool_names: [], language: "python" };
    expectSuccess(await execute(server, body), "1\n", "idle_footprint");
    await settle(server, 1000, 30_000);
  }
  const tree = await treeMemory(server.pid);
  for (const m of tree.processes) {
    console.log(
      `pid ${m.pid}: RSS ${mib(m.rss)} MiB, PSS ${mib(m.pss)} MiB  ${m.command.slice(0, 90)}`,
    );
  }
  console.log(
    `idle footprint, defaults, ${tree.processes.length} processes: ` +
      `RSS ${mib(tree.rss)} MiB, PSS ${mib(tree.pss)} MiB`,
  );
}
