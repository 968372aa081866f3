/**
 * Clients that disconnect at any point: before the first frame, while a tool call is pending,
 * after posting a result, while waiting for an execution slot, during a step. Each program is
 * stopped (its host killed when its worker will not stop), its slot freed, the execution
 * logged once, and the server keeps serving. (A slow SSE reader is in `limits_test.ts`.)
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  API_KEY,
  assertStillServes,
  delay,
  openStream,
  post,
  startServer,
  type TestServer,
  waitFor,
} from "../_helpers.ts";
import { anyAlive, assertKilled, liveChildren, nextSandbox, STRICT } from "./_faults.ts";

/**
 * Waits until the program that ran on host `pid` is stopped: its slot is free (the server frees
 * it once the worker's thread is gone from /proc), and the host, still alive, serves on.
 */
async function assertStopped(t: TestServer, pid: number, what: string): Promise<void> {
  await waitFor(
    `${what}: the program's worker is gone`,
    () => t.server.app.runner.stats("deno").programs === 0,
    3000,
  );
  deepStrictEqual(await anyAlive([pid]), [pid], `${what}: the host died`);
  ok(t.server.app.runner.pids("deno").includes(pid), `${what}: the host was retired`);
}

Deno.test("a client that disconnects before the first frame gets its busy program stopped with its host", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, { code: "while (true) {}", tool_names: [] });
  await waitFor("the execution runs", () => t.server.app.running === 1);
  await delay(300); // it spins
  await stream.abort();
  // Deno does not stop a worker in an endless loop: its host is killed.
  await assertKilled(pid, "disconnect before the first frame");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(t.logs[0]!, /^execution [0-9a-f]{32} runtime_error \(the client disconnected\) /);
  strictEqual(t.server.app.running, 0);
  await assertStillServes(t);
});

Deno.test("a client that disconnects while a tool call is pending gets its program stopped", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { ask } from "tools"; console.log(await ask("?"));`,
    tool_names: ["ask"],
  });
  const call = await stream.next();
  strictEqual(call.type, "tool_call");
  await stream.abort();
  await assertStopped(t, pid, "disconnect while a tool call is pending");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(
    t.logs[0]!,
    /runtime_error \(the client disconnected\) .*, 1 tool calls, sandbox \d+ run \d+$/,
  );
  strictEqual(t.server.app.running, 0);
  await assertStillServes(t);
});

Deno.test("a client that disconnects after posting a result, before the terminal frame, gets its busy program stopped with its host", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { ask } from "tools";
console.log(await ask("?"));
while (true) {}`,
    tool_names: ["ask"],
  });
  const call = await stream.next();
  const answer = await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result: "yes",
  }, STRICT);
  strictEqual(answer.status, 200);
  strictEqual(await answer.text(), "null");
  await delay(100); // the program prints and spins
  await stream.abort();
  await assertKilled(pid, "disconnect after posting a result");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(
    t.logs[0]!,
    /runtime_error \(the client disconnected\) .*, 1 tool calls, sandbox \d+ run \d+$/,
  );
  await assertStillServes(t);
});

Deno.test("a client that disconnects while waiting for an execution slot takes no slot", async () => {
  // With a program per host (the strict mode) the pool starts hosts for the waiting request and
  // one more while the holder's slot frees; those retire once idle for --host-idle-timeout, so
  // it is short here: what must be gone at the end is the disconnected program's host.
  await using t = await startServer({
    maxConcurrent: 1,
    queueTimeoutMs: 5000,
    hostIdleTimeoutMs: 1000,
  });
  const holder = await openStream(t.url, {
    code: `import { hold } from "tools"; await hold();`,
    tool_names: ["hold"],
  });
  const call = await holder.next();
  const queued = new AbortController();
  const waiting = fetch(`${t.url}/execute-code`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ code: "while (true) {}", tool_names: [] }),
    signal: queued.signal,
  }).catch((error) => error);
  await delay(200);
  queued.abort();
  strictEqual((await waiting as Error).name, "AbortError");
  await (await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result: null,
  })).body?.cancel();
  deepStrictEqual(await holder.rest(), [{ type: "success", stdout: "", stderr: "" }]);
  // The queued request got the slot when it freed: its client is gone, so its program must not
  // keep the only slot (and a sandbox) until the execution timeout.
  await waitFor("no execution runs", () => t.server.app.running === 0, 3000);
  await waitFor("only the warm pool is left", async () => (await liveChildren()).length <= 1);
  deepStrictEqual(
    t.logs.map((line) =>
      line.replace(/^execution [0-9a-f]{32} /, "").replace(/ [\d.]+ ms,/, "")
        .replace(/, sandbox \d+ run \d+$/, "")
    ),
    [
      "success (success) 1 tool calls",
      "runtime_error (the client disconnected) 0 tool calls",
    ],
  );
  await assertStillServes(t);
});

Deno.test("a step client that disconnects while its step runs gets its busy program stopped with its host, and its slot freed", async () => {
  // One slot: a step run that outlives its client would hold it until the execution timeout.
  await using t = await startServer({
    maxConcurrent: 1,
    queueTimeoutMs: 500,
    codeExecutionTimeoutMs: 4000,
  });
  const pid = await nextSandbox();
  const controller = new AbortController();
  const step = fetch(`${t.url}/execute-code-step`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ code: `console.log("spinning"); while (true) {}`, tool_names: [] }),
    signal: controller.signal,
  }).catch((error) => error);
  await delay(300);
  controller.abort();
  strictEqual((await step as Error).name, "AbortError");
  await assertKilled(pid, "step client disconnected");
  await waitFor("the step is logged", () => t.logs.length === 1, 1000);
  match(t.logs[0]!, /^step [0-9a-f]{32} #1 runtime_error \(start, the client disconnected\) /);
  await assertStillServes(t);
});
