/**
 * What a Python run is given and how it ends, end to end (a real server, real Pyodide sandboxes,
 * our TypeScript client): a failed tool's ToolError at its call site; client modules (progtc
 * 0.2.0: they import tools, their tracebacks name them, names that shadow or are not
 * identifiers are refused); a tool call's and the execution's timeouts; `sys.exit` in its forms;
 * output (captured apart, truncated at the limit).
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  API_KEY,
  post,
  sharedServerTests,
  sseFrames,
  startServer,
  type TestServer,
} from "./_helpers.ts";

const python = { language: "python" } as const;

/** Runs a program with client `modules` over raw HTTP (the TS client does not send them). */
async function executeWithModules(
  t: TestServer,
  body: { code: string; modules: Record<string, string> },
  tools: Record<string, (args: unknown[], kwargs: Record<string, unknown>) => unknown>,
): Promise<Record<string, unknown>> {
  const response = await post(`${t.url}/execute-code`, {
    ...body,
    tool_names: Object.keys(tools),
    language: "python",
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  for await (const frame of sseFrames(response)) {
    if (frame.type !== "tool_call") return frame;
    const tool = tools[frame.tool_name as string]!;
    const result = await tool(frame.args as unknown[], frame.kwargs as Record<string, unknown>);
    const answer = await post(`${t.url}/tool-results`, {
      execution_id: frame.execution_id,
      tool_call_id: frame.id,
      result,
    });
    strictEqual(answer.status, 200);
    await answer.body?.cancel();
  }
  throw new Error("The event stream ended without a result");
}

/** The tests that need no server of their own: steps of one test, on one server. */
const onePythonServer = sharedServerTests("python: runs on one server with a Python host", {
  pythonPoolSize: 1,
});

Deno.test("python: a tool call past the per-call timeout raises a catchable TimeoutError", async () => {
  await using t = await startServer({ pythonPoolSize: 1, toolCallTimeoutMs: 300 });
  const result = await t.client.executeCode({
    ...python,
    code: `
from tools import slow
try:
    await slow()
except TimeoutError as error:
    print("timed out:", type(error).__name__, error)
print("still running")
`,
    tools: { slow: () => new Promise<never>(() => {}) },
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "timed out: TimeoutError Tool call slow() timed out after 0.3 s\nstill running\n",
    stderr: "",
  });
});

// ─── timeouts and exits ─────────────────────────────────────────────────────────────────────

Deno.test("python: the execution timeout stops a busy loop and keeps earlier output", async () => {
  await using t = await startServer({ pythonPoolSize: 1, codeExecutionTimeoutMs: 1000 });
  const started = performance.now();
  const result = await t.client.executeCode({
    ...python,
    code: `print("before the loop")\nwhile True:\n    pass\n`,
    tools: {},
  });
  strictEqual(result.type, "timeout_error");
  strictEqual(result.stdout, "before the loop\n");
  ok(result.stderr.includes("did not finish within 1 s"), result.stderr);
  ok(performance.now() - started < 3000);
});

onePythonServer(
  "python: sys.exit(0) and sys.exit() end as success with the output so far",
  async (t) => {
    for (const exit of ["sys.exit(0)", "sys.exit()", "raise SystemExit"]) {
      const result = await t.client.executeCode({
        ...python,
        code: `import sys\nprint("done", end="")\n${exit}\nprint("never")\n`,
        tools: {},
      });
      deepStrictEqual(result, { type: "success", stdout: "done", stderr: "" }, exit);
      await t.server.app.runner.warm();
    }
  },
);

onePythonServer(
  "python: sys.exit(3), sys.exit('message') and sys.exit(True) end as runtime_error",
  async (t) => {
    for (
      const [exit, stderr] of [
        ["sys.exit(3)", "Error: the program exited with code 3\n"],
        ['sys.exit("giving up")', "giving up\nError: the program exited with code 1\n"],
        ["sys.exit(True)", "Error: the program exited with code 1\n"],
      ]
    ) {
      const result = await t.client.executeCode({
        ...python,
        code: `import sys\n${exit}\n`,
        tools: {},
      });
      deepStrictEqual(result, { type: "runtime_error", stdout: "", stderr }, exit);
      await t.server.app.runner.warm();
    }
  },
);

onePythonServer(
  "python: sys.exit() inside a task created by the program still ends the run",
  async (t) => {
    const result = await t.client.executeCode({
      ...python,
      code: `
import asyncio, sys
async def stop():
    sys.exit(4)
await asyncio.gather(asyncio.create_task(stop()), asyncio.sleep(5))
`,
      tools: {},
    });
    deepStrictEqual(result, {
      type: "runtime_error",
      stdout: "",
      stderr: "Error: the program exited with code 4\n",
    });
  },
);

// ─── output ─────────────────────────────────────────────────────────────────────────────────

onePythonServer(
  "python: stdout and stderr are captured apart, with a last line without newline",
  async (t) => {
    const streamed: string[] = [];
    const result = await t.client.executeCode({
      ...python,
      code: `
import sys
print("out 1")
print("err 1", file=sys.stderr)
sys.stdout.write("no newline")
`,
      tools: {},
      onOutput: (frame) => streamed.push(`${frame.type}:${frame.data}`),
    });
    deepStrictEqual(result, { type: "success", stdout: "out 1\nno newline", stderr: "err 1\n" });
    deepStrictEqual(streamed, ["stdout:out 1\n", "stderr:err 1\n", "stdout:no newline"]);
  },
);

Deno.test("python: output past the limit is truncated, even one write longer than a line", async () => {
  await using t = await startServer({ pythonPoolSize: 1, maxOutputBytes: 1000 });
  const result = await t.client.executeCode({
    ...python,
    code: `print("a" * 500)\nprint("x" * 20_000_000)\nprint("after")\n`,
    tools: {},
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "a".repeat(500) + "\n\n[progtc: output truncated, the limit is 1000 bytes]\n",
    stderr: "",
  });
});

// ─── tools that fail ────────────────────────────────────────────────────────────────────────

onePythonServer("python: a failed tool raises ToolError at the call site, catchable", async (t) => {
  const tools = {
    lookup: () => {
      throw new Error("no such user");
    },
  };
  const caught = await t.client.executeCode({
    ...python,
    code: `
import tools
try:
    await tools.lookup("bob")
except tools.ToolError as error:
    print("caught:", error)
`,
    tools,
  });
  deepStrictEqual(caught, { type: "success", stdout: "caught: no such user\n", stderr: "" });
  await t.server.app.runner.warm();
  const uncaught = await t.client.executeCode({
    ...python,
    code: `from tools import lookup\n\nawait lookup("bob")\n`,
    tools,
  });
  strictEqual(uncaught.type, "runtime_error");
  ok(uncaught.stderr.includes(`  File "<code>", line 3, in <module>\n`), uncaught.stderr);
  ok(uncaught.stderr.endsWith("ToolError: no such user\n"), uncaught.stderr);
  ok(!uncaught.stderr.includes("<progtc>"), uncaught.stderr);
});

// ─── client modules (progtc 0.2.0) ──────────────────────────────────────────────────────────

onePythonServer(
  "python: client modules import tools, and their tracebacks name the module",
  async (t) => {
    const helpers = `
import tools

async def shout_weather(city):
    weather = await tools.get_weather(city=city)
    return weather.upper()

def fail():
    raise KeyError("missing")
`;
    const shout = await executeWithModules(
      t,
      {
        code: `from helpers import shout_weather\nprint(await shout_weather("Tokyo"))\n`,
        modules: { helpers },
      },
      { get_weather: (_args, kwargs) => `sunny in ${kwargs.city}` },
    );
    deepStrictEqual(shout, { type: "success", stdout: "SUNNY IN TOKYO\n", stderr: "" });
    await t.server.app.runner.warm();
    const failed = await executeWithModules(
      t,
      { code: `import helpers\nhelpers.fail()\n`, modules: { helpers } },
      {},
    );
    strictEqual(failed.type, "runtime_error");
    ok(
      String(failed.stderr).includes(`  File "<helpers>", line 9, in fail\n`),
      String(failed.stderr),
    );
    ok(String(failed.stderr).endsWith("KeyError: 'missing'\n"), String(failed.stderr));
  },
);

Deno.test("python: client module names that shadow get a 400; reserved or not identifiers a 422", async () => {
  await using t = await startServer({ pythonPoolSize: 0, poolSize: 0 });
  for (const name of ["json", "asyncio", "js", "pyodide"]) {
    const response = await post(`${t.url}/execute-code`, {
      code: "pass",
      tool_names: [],
      language: "python",
      modules: { [name]: "x = 1" },
    });
    strictEqual(response.status, 400, name);
    const problem = await response.json();
    strictEqual(problem.code, "unsupported_modules", name);
    ok(problem.detail.endsWith(`: ${name}`), problem.detail);
  }
  // As the reference: request validation, 422, with its messages.
  for (
    const [name, why] of [
      ["tools", "Module name 'tools' is reserved."],
      ["not-an-identifier", "Module name 'not-an-identifier' is not a valid identifier."],
      ["2x", "Module name '2x' is not a valid identifier."],
    ]
  ) {
    for (const path of ["/execute-code", "/execute-code-step"]) {
      const response = await post(`${t.url}${path}`, {
        code: "pass",
        tool_names: [],
        language: "python",
        modules: { [name!]: "x = 1" },
      });
      strictEqual(response.status, 422, `${path} ${name}`);
      const problem = await response.json();
      strictEqual(problem.code, "invalid_body", name);
      ok(problem.detail.includes(why!), problem.detail);
    }
  }
  const typescript = await post(`${t.url}/execute-code`, {
    code: "",
    tool_names: [],
    language: "typescript",
    modules: { helpers: "x = 1" },
  }, { "x-progtc-api-key": API_KEY });
  strictEqual(typescript.status, 400);
  strictEqual((await typescript.json()).code, "unsupported_modules");
});
