/**
 * Tool results over HTTP, on a real server: a duplicate or late result is 409 when the client
 * asks to be strict (our client does) and the reference's silent 200 otherwise, and the
 * execution goes on; an error result is an exception in the program; an execution that waits
 * gets keepalive comments. The rest of the HTTP surface: http_test.ts.
 *
 * progtc-test: waits (1.2 s of CPU in 4.1 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { API_KEY, openStream, post, problem, startServer } from "./_helpers.ts";

/** What our client sends with tool results: 409 instead of the reference's silent 200. */
const STRICT = { "x-progtc-api-key": API_KEY, prefer: "handling=strict" };

Deno.test("/tool-results answers 409 to a duplicate result when asked to be strict, and the execution goes on", async () => {
  await using t = await startServer();
  const stream = await openStream(t.url, {
    code: `import { a } from "tools"; console.log(await a(), await a());`,
    tool_names: ["a"],
  });
  const call = await stream.next();
  const answer = { execution_id: call.execution_id, tool_call_id: call.id, result: 1 };
  const first = await post(`${t.url}/tool-results`, answer);
  strictEqual(first.status, 200);
  strictEqual(await first.text(), "null");
  await problem(
    await post(`${t.url}/tool-results`, { ...answer, result: 2 }, STRICT),
    409,
    "tool_call_not_pending",
  );
  const second = await stream.next();
  strictEqual(second.type, "tool_call");
  const unknownCall = { ...answer, tool_call_id: "f".repeat(32) };
  await problem(await post(`${t.url}/tool-results`, unknownCall), 404, "unknown_tool_call");
  await (await post(`${t.url}/tool-results`, { ...answer, tool_call_id: second.id, result: 3 }))
    .body
    ?.cancel();
  deepStrictEqual(await stream.next(), { type: "success", stdout: "1 3\n", stderr: "" });
  await stream.abort();
  await problem(await post(`${t.url}/tool-results`, answer, STRICT), 409, "tool_call_not_pending");
});

Deno.test("/tool-results answers 409 to a late result after the call timed out, when asked to be strict", async () => {
  await using t = await startServer({ toolCallTimeoutMs: 200 });
  const stream = await openStream(t.url, {
    code: `import { a } from "tools";
try { await a(); } catch (e) { console.log(e.name); }
console.log(await a());`,
    tool_names: ["a"],
  });
  const late = await stream.next();
  const next = await stream.next(); // issued after the first call timed out
  strictEqual(next.type, "tool_call");
  const lateAnswer = { execution_id: late.execution_id, tool_call_id: late.id, result: 1 };
  await problem(
    await post(`${t.url}/tool-results`, lateAnswer, STRICT),
    409,
    "tool_call_not_pending",
  );
  // A client that does not ask (the Python reference client) gets the reference's 200 null.
  const lenient = await post(`${t.url}/tool-results`, lateAnswer);
  strictEqual(lenient.status, 200);
  strictEqual(await lenient.text(), "null");
  const ok200 = await post(`${t.url}/tool-results`, {
    execution_id: next.execution_id,
    tool_call_id: next.id,
    result: "on time",
  });
  await ok200.body?.cancel();
  deepStrictEqual(await stream.next(), {
    type: "success",
    stdout: "TimeoutError\non time\n",
    stderr: "",
  });
  await stream.abort();
});

Deno.test("/tool-results carries an error the program sees as an exception", async () => {
  await using t = await startServer();
  const stream = await openStream(t.url, {
    code:
      `import { a } from "tools"; try { await a(); } catch (e) { console.log(e.name + ": " + e.message); }`,
    tool_names: ["a"],
  });
  const call = await stream.next();
  const response = await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    error: "no such city",
  });
  await response.body?.cancel();
  deepStrictEqual(await stream.next(), {
    type: "success",
    stdout: "ToolError: no such city\n",
    stderr: "",
  });
  await stream.abort();
});

Deno.test("/execute-code sends keepalive comments while the program waits", async () => {
  await using t = await startServer();
  const response = await post(`${t.url}/execute-code`, {
    code: `await new Promise((r) => setTimeout(r, 2300)); console.log("done");`,
    tool_names: [],
  });
  const text = await response.text();
  ok((text.match(/^: keepalive$/gm) ?? []).length >= 2, text);
  match(text, /data: \{"type":"success","stdout":"done\\n","stderr":""\}\n\n$/);
});

/** Sends raw bytes on a new connection, then ends its writing side; returns what came back. */
