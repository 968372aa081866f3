import { terminalFrameBytes } from "../server/limits.ts";
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { API_KEY, delay, post, readFrames, sseFrames, startServer, waitFor } from "./_helpers.ts";

Deno.test("an execution's output is truncated at the limit with a marker, and the result still comes", async () => {
  await using t = await startServer({ maxOutputBytes: 1000 });
  const result = await t.client.executeCode({
    code: `for (let i = 0; i < 10_000; i++) console.log(i, "x".repeat(50));\nconsole.error("end");`,
    tools: {},
  });
  strictEqual(result.type, "success");
  ok(result.stdout.length < 1200, `kept ${result.stdout.length} characters`);
  match(result.stdout, /^0 x+\n1 x+\n/);
  match(result.stdout, /\n\[progtc: output truncated, the limit is 1000 bytes\]\n$/);
  strictEqual(result.stderr, "", "output after the limit is dropped, stderr too");
});

Deno.test("tool calls over the per-execution limit fail inside the program", async () => {
  await using t = await startServer({ maxToolCalls: 3 });
  let calls = 0;
  const result = await t.client.executeCode({
    code: `import { tick } from "tools";
for (let i = 0; i < 5; i++) {
  try { await tick(i); } catch (e) { console.log(i, e.name, e.message); }
}`,
    tools: { tick: () => ++calls },
  });
  strictEqual(calls, 3);
  deepStrictEqual(result, {
    type: "success",
    stdout: "3 ToolError Tool call limit exceeded: at most 3 calls per execution\n" +
      "4 ToolError Tool call limit exceeded: at most 3 calls per execution\n",
    stderr: "",
  });
});

Deno.test("tool arguments over the size limit fail inside the program without a call", async () => {
  await using t = await startServer({ maxToolArgsBytes: 100 });
  let calls = 0;
  const result = await t.client.executeCode({
    code: `import { store } from "tools";
try { await store("x".repeat(200)); } catch (e) { console.log(e.name, e.message); }
console.log(await store("small"));`,
    tools: { store: (value: string) => (calls++, value.length) },
  });
  strictEqual(calls, 1);
  deepStrictEqual(result, {
    type: "success",
    stdout: "ToolError Arguments of store() exceed the limit of 100 bytes of JSON (206 bytes)\n5\n",
    stderr: "",
  });
});

Deno.test("tool arguments too long for the sandbox's pipe fail the same way, in both languages", async () => {
  await using t = await startServer({ maxToolArgsBytes: 100, pythonPoolSize: 1 });
  let calls = 0;
  const tools = { store: (value: string) => (calls++, value.length) };
  // Longer than the line a host may write (the limit + 64 KiB): never sent.
  const ts = await t.client.executeCode({
    code: `import { store } from "tools";
try { await store("x".repeat(1_000_000)); } catch (e) { console.log(e.name, e.message); }
console.log(await store("small"));`,
    tools,
  });
  const py = await t.client.executeCode({
    code: `from tools import store, ToolError
try:
    await store("x" * 1_000_000)
except ToolError as e:
    print(type(e).__name__, e)
print(await store("small"))`,
    tools,
    language: "python",
  });
  strictEqual(calls, 2);
  const refused = "ToolError Arguments of store() exceed the limit of 100 bytes of JSON\n5\n";
  deepStrictEqual(ts, { type: "success", stdout: refused, stderr: "" });
  deepStrictEqual(py, { type: "success", stdout: refused, stderr: "" });
});

Deno.test("python: arguments and a return value within the limit are measured once, as the client gets them", async () => {
  // Python writes 1e16 in 5 characters, JSON.stringify in 17: the limit counts what the
  // client receives, and a program under it is neither refused nor killed.
  await using t = await startServer({ maxToolArgsBytes: 200, pythonPoolSize: 1 });
  const result = await t.client.executeCode({
    code: `from tools import echo
values = [1e16 + i for i in range(10)]
print(len(await echo(values)))
values`,
    tools: { echo: (values: number[]) => values },
    language: "python",
    returnValue: true,
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "10\n",
    stderr: "",
    value: Array.from({ length: 10 }, (_, i) => 1e16 + i),
  });
  const over = await t.client.executeCode({
    code: `from tools import echo, ToolError
values = [1e16 + i for i in range(12)]
try:
    await echo(values)
except ToolError as e:
    print(e)
values`,
    tools: { echo: (values: number[]) => values },
    language: "python",
    returnValue: true,
  });
  deepStrictEqual(over, {
    type: "runtime_error",
    stdout: "Arguments of echo() exceed the limit of 200 bytes of JSON (221 bytes)\n",
    stderr:
      "Error: the program's return value exceeds the limit of 200 bytes of JSON (217 bytes)\n",
  });
});

Deno.test("a tool result over the size limit fails inside the program, and the client is told 413", async () => {
  await using t = await startServer({ maxToolResultBytes: 100 });
  const response = await post(`${t.url}/execute-code`, {
    code: `import { big } from "tools";
try { await big(); } catch (e) { console.log(e.name, e.message); }`,
    tool_names: ["big"],
  });
  const events = sseFrames(response);
  const call = (await events.next()).value!;
  const answer = await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result: "y".repeat(200),
  });
  strictEqual(answer.status, 413);
  strictEqual((await answer.json()).code, "result_too_large");
  deepStrictEqual((await events.next()).value, {
    type: "success",
    stdout: "ToolError The tool's result of 202 bytes exceeds the limit of 100\n",
    stderr: "",
  });
  await events.return(undefined);
});

Deno.test("requests over the concurrency limit wait, then get 503 with Retry-After", async () => {
  await using t = await startServer({ maxConcurrent: 1, queueTimeoutMs: 200 });
  const release = Promise.withResolvers<void>();
  const first = t.client.executeCode({
    code: `import { hold } from "tools"; await hold(); console.log("first");`,
    tools: { hold: () => release.promise },
  });
  await waitFor("the execution runs", () => t.server.app.running === 1);
  const refused = await post(`${t.url}/execute-code`, { code: "", tool_names: [] });
  strictEqual(refused.status, 503);
  strictEqual(refused.headers.get("retry-after"), "1");
  strictEqual((await refused.json()).code, "over_capacity");
  // A request that waits less than the queue timeout gets the slot when it frees.
  const queued = t.client.executeCode({ code: `console.log("second")`, tools: {} });
  await delay(50);
  release.resolve();
  deepStrictEqual(await first, { type: "success", stdout: "first\n", stderr: "" });
  deepStrictEqual(await queued, { type: "success", stdout: "second\n", stderr: "" });
});

Deno.test("a client that stops reading its event stream gets its execution stopped, with a terminal frame", async () => {
  // The stream keeps room for a terminal frame (32 MiB of output at most) and has 256 KiB for
  // other frames, once the kernel's buffers are full.
  const maxOutputBytes = 32 * 1024 * 1024;
  await using t = await startServer({
    maxOutputBytes,
    maxBufferedBytes: terminalFrameBytes({ maxOutputBytes, maxToolArgsBytes: 1024 * 1024 }) +
      320 * 1024,
  });
  const response = await fetch(`${t.url}/execute-code`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({
      code: `for (let i = 0; i < 40_000; i++) console.log(i, "x".repeat(1000));`,
      tool_names: [],
      stream_output: true,
    }),
  });
  // Do not read: the frames pile up in the server until the bound is hit.
  await waitFor("a log line", () => t.logs.length > 0, 20_000);
  match(t.logs[0]!, /runtime_error \(the client does not read its event stream\)/);
  const frames = await readFrames(response);
  const last = frames.at(-1)!;
  strictEqual(last.type, "runtime_error");
  match(String(last.stderr), /Error: the client does not read its event stream\n$/);
  ok(frames.length < 40_000, `${frames.length} frames were sent`);
});
