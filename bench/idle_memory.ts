/**
 * Idle memory: RSS and PSS of an idle server of ours with the default options, in its own
 * process, and of each of its child processes (the warm sandboxes), read from /proc once warm
 * and again after a few executions; the idle reference server and echo for scale.
 *
 * @module
 */
import { execute, expectSuccess } from "./_client.ts";
import { mib, type ProcessMemory, treeMemory } from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Ctx, Section } from "./main.ts";

/** A short name for a process from its command line (a guess: the bench sees only /proc). */
function label(m: ProcessMemory, root: boolean): string {
  if (root) return "server process";
  if (/pyodide|python/i.test(m.command)) return "child: Python sandbox";
  if (/sandbox|bootstrap/i.test(m.command)) return "child: TypeScript sandbox";
  return `child: ${m.command.split(" ")[0]?.split("/").at(-1) ?? "?"}`;
}

async function rowsOf(server: Server, when: string): Promise<string[][]> {
  const tree = await treeMemory(server.pid);
  return [
    ...tree.processes.map((
      m,
      i,
    ) => [`${label(m, i === 0)} (pid ${m.pid}), ${when}`, mib(m.rss), mib(m.pss)]),
    [`**whole tree, ${when}** (${tree.processes.length} processes)`, mib(tree.rss), mib(tree.pss)],
  ];
}

/** The idle-memory section. */
export async function idleMemory(ctx: Ctx): Promise<Section> {
  const executions = ctx.n(20, 5);
  ctx.log("idle_memory: a fresh server of ours with the default options");
  await using ours = await startOurs([], "ours (idle memory)");
  const run = async (body: Record<string, unknown>, stdout: string) =>
    expectSuccess(await execute(ours, body), stdout, "idle_memory");
  // The footprint an operator sees first: started with the defaults, no request yet (no Python
  // until a Python program asks for it).
  await settle(ours);
  const rows = await rowsOf(ours, "at start, no request");
  await run({ code: "console.log(1)", tool_names: [] }, "1\n");
  await run({ code: "print(1)", tool_names: [], language: "python" }, "1\n");
  await settle(ours);
  rows.push(...await rowsOf(ours, "warm"));
  for (let i = 0; i < executions; i++) {
    await run({
      code: `import { echo } from "tools";\nfor (let i = 0; i < 10; i++) await echo(i);\n` +
        `console.log("x".repeat(1000));`,
      tool_names: ["echo"],
    }, "x".repeat(1000) + "\n");
  }
  await settle(ours);
  rows.push(...await rowsOf(ours, `after ${executions} executions`));
  for (const name of ["reference", "echo"] as const) {
    const server = await ctx.server(name);
    await settle(server);
    const tree = await treeMemory(server.pid);
    const n = tree.processes.length;
    rows.push([`${name}, idle (${n} process${n === 1 ? "" : "es"})`, mib(tree.rss), mib(tree.pss)]);
  }
  return {
    title: "Idle memory",
    description: "A fresh server of ours with the default options (its own process): at start " +
      "before any request (the idle footprint), after one TypeScript and one Python execution " +
      "and once quiet; then again after " +
      `${executions} executions (10 tool calls and 1 KB of output each). Child processes are ` +
      "named from their command lines. RSS counts shared pages in full in every process; PSS " +
      "splits them among the processes that share them, so the PSS of a tree adds up to what it " +
      "costs. The reference server and the echo (the run's shared ones, idle) for scale.",
    tables: [{ head: ["process", "RSS MiB", "PSS MiB"], rows }],
    notes: [],
  };
}
