/**
 * A step's batch is bounded in bytes, beside the bound on each call's arguments: a program that
 * issues hundreds of calls of 1 MB at once gets the calls that fit one answer, and the others
 * fail in the program with a `ToolError` (recorded, so that a replay fails them the same way).
 * Before, 560 such calls made the server build a 560 MB answer (`500 internal`, 1.3 GiB), and a
 * client sending such steps took it to 4.7 GiB.
 *
 * The server runs in its own process, so that its peak memory is its own.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runStepToolCalls } from "../../client/mod.ts";
import { startServer } from "../_helpers.ts";
import { procStatusBytes, type ServerProcess, spawnServer } from "../_process.ts";

const MiB = 1024 * 1024;
const API = { "content-type": "application/json", "x-progtc-api-key": "test-key" };

const FLOOD = `import { store } from "tools";
const big = "x".repeat(1_000_000);
const settled = await Promise.allSettled(Array.from({ length: 560 }, (_, i) => store(i, big)));
const refused = settled.filter((s) => s.status === "rejected");
console.log(settled.length - refused.length, refused.length, refused[0].reason.name);
console.log(refused[0].reason.message);`;

async function step(server: ServerProcess, body: Record<string, unknown>) {
  const response = await fetch(`${server.url}/execute-code-step`, {
    method: "POST",
    headers: API,
    body: JSON.stringify({ code: FLOOD, tool_names: ["store"], ...body }),
  });
  return { status: response.status, body: await response.json() };
}

/** Runs the flood through the step API: the answer's calls, then the program's end. */
async function flood(server: ServerProcess) {
  const first = await step(server, {});
  strictEqual(first.status, 200, JSON.stringify(first.body).slice(0, 300));
  strictEqual(first.body.type, "tool_call");
  const calls = first.body.tool_calls as { args: unknown[] }[];
  const answerBytes = new TextEncoder().encode(JSON.stringify(calls)).byteLength;
  const last = await step(server, {
    state: first.body.state,
    tool_results: calls.map(() => "stored"),
  });
  strictEqual(last.status, 200);
  return { calls: calls.length, answerBytes, result: last.body };
}

Deno.test("560 calls of 1 MB in one step: the answer carries what fits 16 MiB, the rest fail in the program", async () => {
  await using server = await spawnServer();
  const before = procStatusBytes(server.pid, "VmHWM");
  const { calls, answerBytes, result } = await flood(server);
  strictEqual(calls, 16);
  ok(answerBytes <= 16 * MiB, `${answerBytes} bytes of calls in one answer`);
  deepStrictEqual(result, {
    type: "success",
    stdout: "16 544 ToolError\n" +
      "The tool calls of one step may take 16777216 bytes of JSON; this call to store() would make them 17003419\n",
    stderr: "",
  });
  // Three more, one after another: the server's peak stays bounded (before: 4.7 GiB).
  for (let i = 0; i < 3; i++) strictEqual((await flood(server)).calls, 16);
  const peak = procStatusBytes(server.pid, "VmHWM") - before;
  ok(peak < 512 * MiB, `four steps of 560 MB of calls raised the peak by ${peak / MiB} MiB`);
});

Deno.test("a call refused for the batch's size is refused the same way when the step replays", async () => {
  for (const warmResumeTtlMs of [60_000, 0]) {
    await using t = await startServer({ maxStepAnswerBytes: 4096, warmResumeTtlMs });
    const code = `import { store } from "tools";
const settled = await Promise.allSettled([1, 2, 3, 4].map((i) => store(i, "y".repeat(1500))));
console.log(settled.map((s) => s.status).join(" "));
console.log(await store(5, "small"));`;
    const tools = { store: (i: number) => `stored ${i}` };
    let result = await t.client.executeCodeStep({ code, toolNames: ["store"] });
    const batches: number[] = [];
    while (result.type === "tool_call") {
      batches.push(result.tool_calls.length);
      const { toolResults } = await runStepToolCalls(result.tool_calls, tools);
      result = await t.client.executeCodeStep({
        code,
        toolNames: ["store"],
        state: result.state,
        toolResults,
      });
    }
    deepStrictEqual(batches, [2, 1], `warm resume ttl ${warmResumeTtlMs} ms`);
    deepStrictEqual(result, {
      type: "success",
      stdout: "fulfilled fulfilled rejected rejected\nstored 5\n",
      stderr: "",
    });
  }
});
