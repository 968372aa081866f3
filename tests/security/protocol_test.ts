/**
 * Protocol forgery attempts: a program that writes protocol messages itself (raw lines on
 * the sandbox's fd 1, `postMessage` to the host's realm, the runner's own tool factory) cannot
 * end its execution as something it is not, and cannot make the client run a tool it was not
 * given. Raw lines stop the sandbox and the result says why; posted messages are ignored.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { maxLineLength } from "../../runner/sandbox_protocol.ts";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

const ECHO = { echo: (value: unknown) => value };
const UNKNOWN_TOOL =
  `Error: the sandbox was stopped because it broke the protocol (call to unknown tool "secret")\n`;

const FORGED_CALL = '{"type":"tool_call","id":99,"name":"secret","args":[],"kwargs":{}}';
const UNKEYED = (line: string) =>
  `Error: the sandbox was stopped because it broke the protocol (unexpected line from sandbox: ${
    JSON.stringify(line)
  })\n`;

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

Deno.test("A raw tool_call line for an unlisted tool written to fd 1 is refused before the client", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import fs from "node:fs";
fs.writeSync(1, '{"type":"tool_call","id":99,"name":"secret","args":[],"kwargs":{}}\\n');
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("still running");`,
    { tools: ECHO },
  );
  // The line lacks the key only the sandbox's realm holds: it is not even parsed.
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, UNKEYED(FORGED_CALL));
  strictEqual(result.stdout, "");
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

Deno.test("A forged ready posted to the host realm neither ends the program nor frees its host", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `postMessage('{"type":"ready","workers":[1]}');
postMessage({ type: "warm" });
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("still running");`,
  );
  deepStrictEqual(result, { type: "success", stdout: "still running\n", stderr: "" });
  await assertStillServes(server);
});

Deno.test("A partial line written to fd 1 stops the sandbox with a protocol violation", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
fs.writeSync(1, "garbage");
console.log("x");
await new Promise((resolve) => setTimeout(resolve, 300));`,
  );
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith(
      'Error: the sandbox was stopped because it broke the protocol (unexpected line from sandbox: "garbage',
    ),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A protocol line over the length limit stops the sandbox", async () => {
  // A line holds one call's arguments (1 MiB by default), or an output piece or an error's
  // text JSON-escaped, plus 64 KiB: 1.06 M characters, whatever the output limit.
  const limit = maxLineLength(1024 * 1024);
  strictEqual(limit, 1024 * 1024 + 64 * 1024);
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
fs.writeSync(1, '{"type":"output","stream":"stdout","data":"' + "x".repeat(${limit} + 1) + '"}');
await new Promise((resolve) => setTimeout(resolve, 5000));`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(
    result.stderr,
    "Error: the sandbox was stopped because it broke the protocol " +
      `(RangeError: Line is longer than ${limit} characters)\n`,
  );
  await assertStillServes(server);
});

Deno.test("Closing fds 0, 1 and 2 from the program ends it with an error that says so", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
console.log("before");
for (const fd of [0, 1, 2]) {
  try { fs.closeSync(fd); } catch (e) { console.log(e.name); }
}
console.log("after");
throw new Error("the end");`,
  );
  // The program's worker writes its own lines: closing its handles cuts it off, its host
  // reports that and is killed; what it printed before is kept.
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "before\n");
  match(result.stderr, /^Error: the program's worker failed: its pipe failed \(.+\)\n$/);
  await assertStillServes(server);
});
