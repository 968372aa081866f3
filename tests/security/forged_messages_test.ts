/**
 * The server enforces every limit on what it receives from a sandbox, in UTF-8 bytes, whatever
 * the runner in the sandbox did: a Python program posts keyed protocol lines through the
 * runner's own writer (found with `gc`), a TypeScript program breaks the runner's byte count by
 * replacing `String.prototype.charCodeAt`. Oversized arguments never reach the client (the call
 * fails in the program), error
 * text and output are cut at their limits, message floods end the execution with a frame that
 * says why, and the server serves afterwards.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { utf8Length } from "../../sandbox/text.ts";
import { assertOnlyPoolHosts } from "../_helpers.ts";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";
import { sharedServerTests } from "../_helpers.ts";

const VIOLATION = "Error: the sandbox was stopped because it broke the protocol";

/** A Python program that posts `lines` (Python expressions of str) as its own protocol lines. */
function forgePython(lines: string[], after = "await asyncio.sleep(0.3)\nprint('not reached')") {
  return `import asyncio, gc, json
post = next(o for o in gc.get_objects() if type(o).__name__ == "_State").post
${lines.map((line) => `post(${line})`).join("\n")}
${after}`;
}

/** A Python expression of a tool_call line for `echo` with id `id` and arguments `args`. */
const call = (args: string, id = "str(i)") =>
  `'{"type":"tool_call","id":' + ${id} + ',"name":"echo","args":' + ${args} + ',"kwargs":{},"frame":[0],"index":' + ${id} + '}'`;

/** The tests that need a default server with one Python host share one. */
const onePythonServer = sharedServerTests("forged: attempts on one server with a Python host", {
  pythonPoolSize: 1,
});

onePythonServer(
  "forged: 1.5 MB of CJK arguments (500 K characters) under a 1 MiB limit never reach the client",
  async (server) => {
    const calls: unknown[] = [];
    const { result } = await attempt(
      server,
      forgePython(
        [call(`json.dumps(["中" * 500_000], ensure_ascii=False)`, `"1"`)],
        "await asyncio.sleep(0.3)\nprint('went on')",
      ),
      { language: "python", tools: { echo: (v: unknown) => calls.push(v) } },
    );
    // The server answers the call with a ToolError (nobody waits for it in the runner), and the
    // program goes on: only what is within the limit reaches the client.
    deepStrictEqual(result, { type: "success", stdout: "went on\n", stderr: "" });
    deepStrictEqual(calls, []);
    await assertStillServes(server);
    await assertOnlyPoolHosts(server);
  },
);

Deno.test("forged: a TypeScript program that breaks its runner's string methods still cannot send oversized arguments", async () => {
  await using server = await startServer();
  const calls: unknown[] = [];
  const { result } = await attempt(
    server,
    `import { echo } from "tools";
const big = "中".repeat(400_000); // 1.2 MB in UTF-8, 400 K UTF-16 units: fits the pipe's bound
String.prototype.charCodeAt = () => 65;
try { await echo(big); } catch (e) { console.log("caught", e.name, e.message); }`,
    { tools: { echo: (v: unknown) => calls.push(v) } },
  );
  deepStrictEqual(result, {
    type: "success",
    stdout:
      "caught ToolError Arguments of echo() exceed the limit of 1048576 bytes of JSON (1200006 bytes)\n",
    stderr: "",
  });
  deepStrictEqual(calls, []);
  await assertStillServes(server);
});

Deno.test("within the pipe's bound, the server refuses CJK arguments by their UTF-8 size, and the program goes on", async () => {
  await using server = await startServer({ pythonPoolSize: 1, maxToolArgsBytes: 30_000 });
  const calls: unknown[] = [];
  const tools = { echo: (v: unknown) => (calls.push(v), "ok") };
  const ts = await attempt(
    server,
    `import { echo } from "tools";
try { await echo("中".repeat(10_000)); } catch (e) { console.log(e.name, e.message); }
console.log(await echo("中".repeat(9_990)));`,
    { tools },
  );
  const refused =
    "ToolError Arguments of echo() exceed the limit of 30000 bytes of JSON (30006 bytes)\nok\n";
  deepStrictEqual(ts.result, { type: "success", stdout: refused, stderr: "" });
  const py = await attempt(
    server,
    `from tools import echo, ToolError
try:
    await echo("中" * 10_000)
except ToolError as e:
    print(type(e).__name__, e)
print(await echo("中" * 9_990))`,
    { language: "python", tools },
  );
  deepStrictEqual(py.result, { type: "success", stdout: refused, stderr: "" });
  strictEqual(calls.length, 2);
});

onePythonServer(
  "forged: 1 M characters of error text end as 64 KiB of it, a longer line stops the sandbox",
  async (server) => {
    const long = await attempt(
      server,
      forgePython([
        `'{"type":"runtime_error","error":' + json.dumps("é" * 1_000_000, ensure_ascii=False) + '}'`,
      ]),
      { language: "python" },
    );
    strictEqual(long.result.type, "runtime_error");
    ok(
      long.result.stderr.endsWith("\n[progtc: error text truncated]\n"),
      long.result.stderr.slice(-80),
    );
    const kept = long.result.stderr.slice(0, -"\n[progtc: error text truncated]\n".length);
    strictEqual(kept, "é".repeat(32_768), "64 KiB of two-byte characters");
    const huge = await attempt(
      server,
      forgePython([`'{"type":"runtime_error","error":"' + "x" * 5_500_000 + '"}'`]),
      { language: "python" },
    );
    strictEqual(huge.result.type, "runtime_error");
    match(
      huge.result.stderr,
      /^Error: the sandbox was stopped because it broke the protocol \(a line longer than \d+ characters\)\n$/,
    );
    ok(huge.result.stderr.length < 200, `${huge.result.stderr.length}`);
    await assertStillServes(server);
  },
);

Deno.test("forged: output is counted in UTF-8 bytes, and a flood after the limit stops the sandbox", async () => {
  await using server = await startServer({ pythonPoolSize: 1, maxOutputBytes: 100_000 });
  const marker = "\n[progtc: output truncated, the limit is 100000 bytes]\n";
  const cjk = await attempt(
    server,
    forgePython(
      [`json.dumps({"type": "output", "stream": "stderr", "data": "中" * 20_000}, ensure_ascii=False)`]
        .concat(
          Array(2).fill(`'{"type":"output","stream":"stderr","data":"' + "中" * 20_000 + '"}'`),
        ),
      "print('end')",
    ),
    { language: "python" },
  );
  // 60 KB fits, the next 60 KB does not: cut there, and the rest is dropped.
  strictEqual(cjk.result.type, "success");
  strictEqual(cjk.result.stderr, "中".repeat(20_000) + marker);
  strictEqual(utf8Length(cjk.result.stderr), 60_000 + marker.length);

  const flood = await attempt(
    server,
    forgePython(
      [`'{"type":"output","stream":"stdout","data":"' + "x" * 100_001 + '"}'`],
      // Past the limit, a runner sends at most the piece that crosses it (16 Ki units); this
      // sends 200 KB more.
      `for i in range(100):\n    post('{"type":"output","stream":"stdout","data":"' + "m" * 2000 + '"}')\nawait asyncio.sleep(0.3)`,
    ),
    { language: "python" },
  );
  strictEqual(flood.result.type, "runtime_error");
  strictEqual(flood.result.stdout, marker);
  strictEqual(flood.result.stderr, `${VIOLATION} (output after the output limit)\n`);

  const empty = await attempt(
    server,
    forgePython([`'{"type":"output","stream":"stdout","data":""}'`]),
    { language: "python" },
  );
  strictEqual(empty.result.stderr, `${VIOLATION} (an empty output message)\n`);
  await assertStillServes(server);
});

Deno.test("forged: floods of tool calls and idle reports end the execution", async () => {
  await using server = await startServer({ pythonPoolSize: 1, maxToolCalls: 5 });
  const calls: unknown[] = [];
  const tools = { echo: (v: unknown) => (calls.push(v), v) };
  const flood = await attempt(
    server,
    forgePython(
      [],
      `for i in range(1000, 1020):\n    post(${call(`"[1]"`)})\nawait asyncio.sleep(1)`,
    ),
    { language: "python", tools },
  );
  strictEqual(flood.result.type, "runtime_error");
  strictEqual(flood.result.stderr, `${VIOLATION} (more than 10 tool calls)\n`);
  ok(calls.length <= 5, `${calls.length} calls reached the client`);

  const idle = await attempt(
    server,
    forgePython(
      [],
      `for i in range(100):\n    post('{"type":"idle","pending":[]}')\nawait asyncio.sleep(0.3)`,
    ),
    { language: "python", tools },
  );
  strictEqual(idle.result.stderr, `${VIOLATION} (more idle reports than its calls can cause)\n`);

  const named = await attempt(
    server,
    forgePython([`'{"type":"idle","pending":' + json.dumps(list(range(1000))) + '}'`]),
    { language: "python", tools },
  );
  strictEqual(named.result.stderr, `${VIOLATION} (an idle report names calls it never made)\n`);
  await assertStillServes(server);
  await assertOnlyPoolHosts(server);
});

Deno.test("forged: a return value over the limit is refused by the server, whatever the runner counted", async () => {
  await using server = await startServer();
  const result = await server.client.executeCode({
    code: `const big = "中".repeat(400_000); // 1.2 MB in UTF-8, 400 K UTF-16 units
String.prototype.charCodeAt = () => 65;
export default big;`,
    tools: {},
    returnValue: true,
  });
  strictEqual(result.type, "runtime_error");
  strictEqual(
    result.stderr,
    "Error: the program's return value exceeds the limit of 1048576 bytes of JSON (1200002 bytes)\n",
  );
  strictEqual("value" in result, false);
  await assertStillServes(server);
  await assertOnlyPoolHosts(server);
});
