/**
 * The step API's semantics end to end, on real sandboxes (issue 9): call keys from the
 * program's structure in TypeScript (Python's are checked by the reference's own suite), replay
 * by key, edited programs, retries and forks with our client and the real Python client, and
 * that after every scenario (retry, fork, replay on a second server, a resume refused for
 * capacity, an expired hold) the server's child processes are its pool's hosts and nothing more.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { ProgtcClient, ProgtcHttpError, runStepToolCalls } from "../client/mod.ts";
import type { ExecuteCodeStepResult, StepToolCalls, ToolHandler } from "../client/mod.ts";
import { API_KEY, assertOnlyPoolHosts, delay, startServer, waitFor } from "./_helpers.ts";
import { runClient } from "./interop/_python.ts";
import { needsPython } from "./interop/venv.ts";

function calls(step: ExecuteCodeStepResult): StepToolCalls {
  strictEqual(step.type, "tool_call", JSON.stringify(step));
  return step as StepToolCalls;
}

const key = (c: { frame_id: number[]; call_index: number }) =>
  `${c.frame_id.join(".")}#${c.call_index}`;

/** Steps `code` to its end with `tools`; every batch's keys, and the end. */
async function loop(client: ProgtcClient, code: string, tools: Record<string, ToolHandler>) {
  const toolNames = Object.keys(tools);
  const seen: Record<string, string> = {};
  let step = await client.executeCodeStep({ code, toolNames });
  while (step.type === "tool_call") {
    for (const call of step.tool_calls) seen[JSON.stringify(call.args)] = key(call);
    const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, tools);
    step = await client.executeCodeStep({
      code,
      toolNames,
      state: step.state,
      toolResults,
      toolErrors,
    });
  }
  return { seen, end: step };
}

// The reference's nested-gather program, in TypeScript: sleeps make the flows' order depend on
// time, and replays answer at once.
const NESTED = `
import { log } from "tools";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function f1(i: number, j: number) {
  if (i === 0) await sleep(30);
  await log("f1", i, j, 0);
  await log("f1", i, j, 1);
}
async function f0(i: number) {
  if (i === 0) await sleep(30);
  await log("f0", i, 0);
  await log("f0", i, 1);
  await Promise.all([0, 1].map((j) => f1(i, j)));
}
await Promise.all([0, 1].map((i) => f0(i)));
console.log("done");
`;

Deno.test("TypeScript call keys are the same whether each step resumes warm or replays, and key every call once", async () => {
  const observed = [];
  for (const warmResumeTtlMs of [60_000, 0]) {
    await using t = await startServer({ warmResumeTtlMs });
    const { seen, end } = await loop(t.client, NESTED, { log: () => null });
    deepStrictEqual(end, { type: "success", stdout: "done\n", stderr: "" });
    strictEqual(Object.keys(seen).length, 12);
    strictEqual(new Set(Object.values(seen)).size, 12, "two calls share a key");
    observed.push(seen);
    await assertOnlyPoolHosts(t);
  }
  deepStrictEqual(observed[0], observed[1]);
  // The first call of each flow, made before any result, keys by the flow's position.
  deepStrictEqual(observed[0]!['["f0",1,0]'], "0#0");
});

Deno.test("a TypeScript program edited between steps replays against the records", async () => {
  await using t = await startServer();
  const code = (city: string) =>
    `import { get } from "tools";\nconst a = await get("${city}");\nconsole.log(a, await get("Rome"));\n`;
  const first = calls(await t.client.executeCodeStep({ code: code("London"), toolNames: ["get"] }));
  const edited = await t.client.executeCodeStep({
    code: code("Paris"),
    toolNames: ["get"],
    state: first.state,
    toolResults: ["Sunny"],
  });
  strictEqual(edited.type, "determinism_error");
  ok(
    edited.stderr.includes("The call to `get` violated this rule.\n    at code.ts:2:"),
    edited.stderr,
  );
  // In order_only mode, the same edit goes on.
  const loose = calls(
    await t.client.executeCodeStep({
      code: code("London"),
      toolNames: ["get"],
      determinism: "order_only",
    }),
  );
  const goesOn = calls(
    await t.client.executeCodeStep({
      code: code("Paris"),
      toolNames: ["get"],
      state: loose.state,
      toolResults: ["Sunny"],
    }),
  );
  deepStrictEqual(goesOn.tool_calls.map((c) => c.args), [["Rome"]]);
  await assertOnlyPoolHosts(t);
});

const TWO = `import { t } from "tools";\nconst a = await t(1);\nconsole.log(a, await t(2, a));\n`;

Deno.test("a retried step gets the same next step, a forked one its own, and no sandbox is left behind", async () => {
  await using t = await startServer();
  const next = (state: string, result: string) =>
    t.client.executeCodeStep({ code: TWO, toolNames: ["t"], state, toolResults: [result] });
  const first = calls(await t.client.executeCodeStep({ code: TWO, toolNames: ["t"] }));
  const once = calls(await next(first.state, "x"));
  const again = calls(await next(first.state, "x"));
  deepStrictEqual(
    again.tool_calls.map((c) => [c.args, key(c)]),
    once.tool_calls.map((c) => [c.args, key(c)]),
  );
  const fork = calls(await next(first.state, "y"));
  deepStrictEqual(fork.tool_calls[0]!.args, [2, "y"]);
  await assertOnlyPoolHosts(t);
  // The replays' workers are gone once their threads are (the server checks): one is held.
  await waitFor(
    "one held execution for one step",
    () => t.server.app.runner.stats("deno").programs === 1,
  );
  const ends = await Promise.all([
    next(once.state, "z"),
    next(again.state, "z"),
    next(fork.state, "w"),
  ]);
  deepStrictEqual(ends.map((e) => "stdout" in e && e.stdout), ["x z\n", "x z\n", "y w\n"]);
  await assertOnlyPoolHosts(t);
});

Deno.test("a step replays on a second server that shares the key, and neither keeps a sandbox for it", async () => {
  await using a = await startServer({ stateSecret: "shared" });
  await using b = await startServer({ stateSecret: "shared", apiKey: "other" });
  const other = new ProgtcClient({ baseUrl: b.url, apiKey: "other" });
  const first = calls(await a.client.executeCodeStep({ code: TWO, toolNames: ["t"] }));
  const second = calls(
    await other.executeCodeStep({
      code: TWO,
      toolNames: ["t"],
      state: first.state,
      toolResults: ["x"],
    }),
  );
  const end = await a.client.executeCodeStep({
    code: TWO,
    toolNames: ["t"],
    state: second.state,
    toolResults: ["y"],
  });
  deepStrictEqual(end, { type: "success", stdout: "x y\n", stderr: "" });
  // a still holds the first step's execution (until its TTL); b holds the second's.
  await a.server.shutdown();
  await b.server.shutdown();
  await assertOnlyPoolHosts(a, b);
});

Deno.test("a resume refused for capacity keeps its execution held, resumable, and nothing more", async () => {
  await using t = await startServer({ maxConcurrent: 1, queueTimeoutMs: 100 });
  const first = calls(await t.client.executeCodeStep({ code: TWO, toolNames: ["t"] }));
  // The only slot: a streaming execution that waits on its tool.
  const release = Promise.withResolvers<void>();
  const busy = t.client.executeCode({
    code: `import { wait } from "tools"; await wait();`,
    tools: { wait: () => release.promise },
  });
  await delay(200);
  await rejects(
    t.client.executeCodeStep({
      code: TWO,
      toolNames: ["t"],
      state: first.state,
      toolResults: ["x"],
    }),
    (error: unknown) => error instanceof ProgtcHttpError && error.status === 503,
  );
  await assertOnlyPoolHosts(t);
  release.resolve();
  strictEqual((await busy).type, "success");
  const resumed = calls(
    await t.client.executeCodeStep({
      code: TWO,
      toolNames: ["t"],
      state: first.state,
      toolResults: ["x"],
    }),
  );
  deepStrictEqual(resumed.tool_calls[0]!.args, [2, "x"]);
  ok(t.logs.some((line) => line.includes("tool_call (warm)")), t.logs.join("\n"));
  await assertOnlyPoolHosts(t);
});

Deno.test("an expired hold frees its sandbox, and its state still replays", async () => {
  await using t = await startServer({ warmResumeTtlMs: 200 });
  const first = calls(await t.client.executeCodeStep({ code: TWO, toolNames: ["t"] }));
  strictEqual(t.server.app.runner.stats("deno").programs, 1);
  await delay(400);
  strictEqual(t.server.app.runner.stats("deno").programs, 0);
  await assertOnlyPoolHosts(t);
  const next = calls(
    await t.client.executeCodeStep({
      code: TWO,
      toolNames: ["t"],
      state: first.state,
      toolResults: ["x"],
    }),
  );
  deepStrictEqual(next.tool_calls[0]!.args, [2, "x"]);
  await assertOnlyPoolHosts(t);
});

Deno.test(
  "the real Python client (0.2.0): a retried step gets the same next step, forks their own, nothing left behind",
  needsPython,
  async () => {
    await using t = await startServer({ language: "python", pythonPoolSize: 1, apiKey: API_KEY });
    const report = await runClient("0.2.0", "step_forks.py", "forks", {
      baseUrl: t.url,
      apiKey: API_KEY,
    });
    strictEqual(report.error, undefined, JSON.stringify(report.error));
    const r = report as unknown as Record<string, unknown>;
    deepStrictEqual(r.first, ["0.0#0", "0.1#0"]);
    deepStrictEqual(r.second, ["0.0#1", "0.1#1"]);
    strictEqual(r.retry_same, true);
    const finals = r.finals as Record<string, { type: string; stdout: string }>;
    deepStrictEqual(
      [finals.once!.stdout, finals.again!.stdout, finals.fork!.stdout],
      [
        "['0:x:1', '1:y:2']\n",
        "['0:x:1', '1:y:2']\n",
        "['0:X:0-b-X', '1:Y:1-b-Y']\n",
      ],
    );
    await assertOnlyPoolHosts(t);
  },
);
