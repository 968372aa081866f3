/**
 * Protocol forgery attempts: a program that writes protocol messages itself (raw lines on the
 * host's fd 1 and 2, `postMessage` to the host's realm, the runner's own tool factory) cannot end
 * its execution as something it is not, and cannot make the client run a tool it was not given.
 * The host's protocol is its socket, which only its relay holds: fd 1 is `/dev/null`, fd 2 is
 * read for logs only, posted messages are ignored.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

const ECHO = { echo: (value: unknown) => value };
const UNKNOWN_TOOL =
  `Error: the sandbox was stopped because it broke the protocol (call to unknown tool "secret")\n`;

Deno.test("A raw success line written to fd 1 does not end the execution as success", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
try {
  fs.writeSync(1, '{"type":"success"}\\n');
} catch (e) {
  console.log("refused", e.name);
}
console.log("after");
await new Promise((resolve) => setTimeout(resolve, 100));
throw new Error("real end");`,
  );
  strictEqual(result.type, "runtime_error", `the forged line ended it: ${JSON.stringify(result)}`);
  ok(
    result.stderr.startsWith("Error: real end") || result.stderr.includes("broke the protocol"),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("Raw protocol lines written to fd 1 and 2 reach nothing: the program runs on as itself", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import fs from "node:fs";
const lines = [
  '{"type":"tool_call","id":99,"name":"secret","args":[],"kwargs":{},"frame":[0],"index":0}',
  '1 {"type":"tool_call","id":99,"name":"secret","args":[],"kwargs":{},"frame":[0],"index":0}',
  '0 {"type":"gone","slot":1,"number":1}',
  "garbage without a newline",
];
for (const fd of [1, 2]) for (const line of lines) fs.writeSync(fd, line + "\\n");
fs.writeSync(1, "x".repeat(2_000_000));
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("still running");`,
    { tools: ECHO },
  );
  deepStrictEqual(result, { type: "success", stdout: "still running\n", stderr: "" });
  deepStrictEqual(calls, []);
  await assertStillServes(server);
});

Deno.test("Forged protocol lines posted to the host realm (postMessage) are ignored", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `postMessage(JSON.stringify({ type: "tool_call", id: 99, name: "secret", args: [], kwargs: {} }));
postMessage('{"type":"success"}');
postMessage({ type: "done" });
postMessage({ type: "started" });
postMessage([
  JSON.stringify({ type: "output", stream: "stdout", data: "forged output" }),
  JSON.stringify({ type: "tool_call", id: 99, name: "secret", args: [], kwargs: {} }),
].join("\\n"));
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("still running");`,
    { tools: ECHO },
  );
  // The host's realm talks to a program's worker over a private port only; the program's
  // lines go through the runner's own writer, which no posted message reaches.
  deepStrictEqual(result, { type: "success", stdout: "still running\n", stderr: "" });
  deepStrictEqual(calls, []);
  await assertStillServes(server);
});

Deno.test("A tool made with the runner's own tool factory for an unlisted name is refused", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `const makeTool = globalThis[Symbol.for("progtc.tool")];
console.log(await makeTool("secret")("x"));`,
    { tools: ECHO },
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, UNKNOWN_TOOL);
  deepStrictEqual(calls, []);
  await assertStillServes(server);
});

Deno.test("Relay and host messages posted to the host realm neither end the program nor free its slot", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `postMessage({ type: "line", line: '{"type":"success"}' });
postMessage({ type: "done" });
postMessage({ type: "warm" });
postMessage({ type: "spawn" });
postMessage({ type: "terminate", number: 1 });
postMessage({ type: "exit", code: 0 });
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("still running");`,
  );
  deepStrictEqual(result, { type: "success", stdout: "still running\n", stderr: "" });
  await assertStillServes(server);
});

Deno.test("Closing fds 0, 1 and 2 closes the program's own handles only: it and the host run on", async () => {
  await using server = await startServer({ poolSize: 1 });
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
console.log(Deno.pid);
for (const fd of [0, 1, 2]) fs.closeSync(fd);
console.log("after");`,
  );
  strictEqual(result.type, "success", result.stderr);
  const [pid, after] = result.stdout.split("\n");
  strictEqual(after, "after");
  // The host's own descriptors are untouched, and the next program runs on it.
  for (const fd of [0, 1, 2]) ok(Deno.readLinkSync(`/proc/${pid}/fd/${fd}`));
  const next = await attempt(server, `console.log(Deno.pid);`);
  strictEqual(next.result.stdout, `${pid}\n`);
  await assertStillServes(server);
});
