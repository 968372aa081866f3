/**
 * Python programs end to end: a real server, real Pyodide sandboxes, our TypeScript client.
 * The programs are the reference README's, plus the semantics the reference defines (errors,
 * timeouts, exits, client modules) and the step API's batching of concurrent calls.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runStepToolCalls, type ToolHandler } from "../client/mod.ts";
import {
  API_KEY,
  post,
  sharedServerTests,
  sseFrames,
  startServer,
  type TestServer,
} from "./_helpers.ts";

const python = { language: "python" } as const;

/** Resolves every waiter once `count` of them wait: proves calls are outstanding together. */
function barrier(count: number): () => Promise<void> {
  const all = Promise.withResolvers<void>();
  let waiting = 0;
  return () => {
    if (++waiting === count) all.resolve();
    return all.promise;
  };
}

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
const onePythonServer = sharedServerTests("python: programs on one server with a Python host", {
  pythonPoolSize: 1,
});

// ─── the reference README ───────────────────────────────────────────────────────────────────

onePythonServer(
  "python: the README quick start calls one tool with positional arguments",
  async (t) => {
    const result = await t.client.executeCode({
      ...python,
      code: `
from tools import get_weather

weather = await get_weather("London", "UK")
print(f"The weather is: {weather}")
`,
      tools: {
        get_weather: (city: string, country: string) =>
          `Weather in ${city}, ${country}: Sunny, 22°C`,
        search_database: () => [{ id: 1, name: "Result" }],
      },
    });
    deepStrictEqual(result, {
      type: "success",
      stdout: "The weather is: Weather in London, UK: Sunny, 22°C\n",
      stderr: "",
    });
  },
);

onePythonServer("python: a tool called with no arguments is awaited", async (t) => {
  const seen: unknown[][] = [];
  const result = await t.client.executeCode({
    ...python,
    code: `from tools import my_tool\n\nawait my_tool()\n`,
    tools: { my_tool: (...args: unknown[]) => void seen.push(args) },
  });
  deepStrictEqual(result, { type: "success", stdout: "", stderr: "" });
  deepStrictEqual(seen, [[]]);
});

onePythonServer(
  "python: sequential calls feed one result into the next and print it",
  async (t) => {
    const result = await t.client.executeCode({
      ...python,
      code: `
from tools import tool_a, tool_b

a = await tool_a()
b = await tool_b(a)
print(b)
`,
      tools: { tool_a: () => ({ n: 20 }), tool_b: (a: { n: number }) => [a.n + 22, null, true] },
    });
    deepStrictEqual(result, { type: "success", stdout: "[42, None, True]\n", stderr: "" });
  },
);

onePythonServer("python: asyncio.gather issues both calls before either is answered", async (t) => {
  const bothOutstanding = barrier(2);
  const result = await t.client.executeCode({
    ...python,
    code: `
import asyncio
from tools import get_weather, search_database

# Call tools like regular async functions
weather, results = await asyncio.gather(
    get_weather("Tokyo", "Japan"),
    search_database("hotels"),
)

print(f"Weather: {weather}")
print(f"Results: {results}")
`,
    tools: {
      get_weather: async (city: string, country: string) => {
        await bothOutstanding();
        return `Weather in ${city}, ${country}: Sunny, 22°C`;
      },
      search_database: async (query: string) => {
        await bothOutstanding();
        return [{ id: 1, name: query }];
      },
    },
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "Weather: Weather in Tokyo, Japan: Sunny, 22°C\n" +
      "Results: [{'id': 1, 'name': 'hotels'}]\n",
    stderr: "",
  });
});

onePythonServer("python: keyword arguments reach a TS tool as a trailing object", async (t) => {
  const calls: unknown[][] = [];
  const result = await t.client.executeCode({
    ...python,
    code: `
import tools
print(await tools.get_weather("Paris", country="FR", days=3))
`,
    tools: {
      get_weather: (...args: unknown[]) => {
        calls.push(args);
        return "ok";
      },
    },
    onToolCall: (call) => {
      deepStrictEqual(call.args, ["Paris"]);
      deepStrictEqual(call.kwargs, { country: "FR", days: 3 });
    },
  });
  deepStrictEqual(result, { type: "success", stdout: "ok\n", stderr: "" });
  deepStrictEqual(calls, [["Paris", { country: "FR", days: 3 }]]);
});

onePythonServer(
  "python: a syntax error is a syntax_error in the user's line numbers",
  async (t) => {
    const result = await t.client.executeCode({
      ...python,
      code: `print("fine")\nx = (\n`,
      tools: {},
    });
    strictEqual(result.type, "syntax_error");
    strictEqual(result.stdout, "");
    ok(result.stderr.startsWith(`  File "<code>", line 2\n`), result.stderr);
    ok(result.stderr.endsWith("SyntaxError: '(' was never closed\n"), result.stderr);
  },
);

onePythonServer(
  "python: an exception is a runtime_error with a traceback of the user's frames",
  async (t) => {
    const result = await t.client.executeCode({
      ...python,
      code: `print("before")\n\ndef parse(text):\n    return int(text)\n\nparse("x")\n`,
      tools: {},
    });
    deepStrictEqual(result, {
      type: "runtime_error",
      stdout: "before\n",
      stderr: [
        "Traceback (most recent call last):",
        `  File "<code>", line 6, in <module>`,
        `    parse("x")`,
        `    ~~~~~^^^^^`,
        `  File "<code>", line 4, in parse`,
        `    return int(text)`,
        "ValueError: invalid literal for int() with base 10: 'x'",
        "",
      ].join("\n"),
    });
  },
);

/** The README's snippets, for the step API: each must end exactly as it does streaming. */
const README_SNIPPETS: { name: string; code: string; tools: Record<string, ToolHandler> }[] = [
  {
    name: "single call",
    code: `from tools import get_weather\n\nweather = await get_weather("London", "UK")\n` +
      `print(f"The weather is: {weather}")\n`,
    tools: { get_weather: (city: string, country: string) => `Sunny in ${city}, ${country}` },
  },
  {
    name: "sequential calls",
    code: `from tools import tool_a, tool_b\n\na = await tool_a()\nb = await tool_b(a)\nprint(b)\n`,
    tools: { tool_a: () => ({ n: 20 }), tool_b: (a: { n: number }) => [a.n + 22, null, true] },
  },
  {
    name: "asyncio.gather of two tools",
    code: `import asyncio\nfrom tools import get_weather, search_database\n\n` +
      `weather, results = await asyncio.gather(\n    get_weather("Tokyo", "Japan"),\n` +
      `    search_database("hotels"),\n)\n\nprint(f"Weather: {weather}")\n` +
      `print(f"Results: {results}")\n`,
    tools: {
      get_weather: (city: string, country: string) => `Sunny in ${city}, ${country}`,
      search_database: (query: string) => [{ id: 1, name: query }],
    },
  },
  {
    name: "syntax error",
    code: `print("fine")\nx = (\n`,
    tools: {},
  },
  {
    name: "runtime error",
    code: `from tools import tool_a\nprint(await tool_a())\n\ndef parse(text):\n` +
      `    return int(text)\n\nparse("x")\n`,
    tools: { tool_a: () => "before" },
  },
];

onePythonServer(
  "python: the README's snippets end the same through the step API as streaming",
  async (t) => {
    for (const snippet of README_SNIPPETS) {
      const streamed = await t.client.executeCode({
        ...python,
        code: snippet.code,
        tools: snippet.tools,
      });
      const toolNames = Object.keys(snippet.tools);
      let step = await t.client.executeCodeStep({ ...python, code: snippet.code, toolNames });
      let steps = 0;
      while (step.type === "tool_call") {
        steps++;
        const answers = await runStepToolCalls(step.tool_calls, snippet.tools);
        step = await t.client.executeCodeStep({
          ...python,
          code: snippet.code,
          toolNames,
          state: step.state,
          ...answers,
        });
      }
      deepStrictEqual(step, streamed, snippet.name);
      const expectedType = { "syntax error": "syntax_error", "runtime error": "runtime_error" }[
        snippet.name
      ] ?? "success";
      strictEqual(step.type, expectedType, `${snippet.name}: ${step.stderr}`);
      ok(step.stdout.length > 0 || step.type === "syntax_error", `${snippet.name} printed nothing`);
      const expectedSteps = { "sequential calls": 2, "syntax error": 0 }[snippet.name] ??
        (toolNames.length > 0 ? 1 : 0);
      strictEqual(steps, expectedSteps, `${snippet.name}: steps`);
    }
  },
);

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
    const code3 = await t.client.executeCode({
      ...python,
      code: `import sys\nsys.exit(3)\n`,
      tools: {},
    });
    deepStrictEqual(code3, {
      type: "runtime_error",
      stdout: "",
      stderr: "Error: the program exited with code 3\n",
    });
    await t.server.app.runner.warm();
    const message = await t.client.executeCode({
      ...python,
      code: `import sys\nsys.exit("giving up")\n`,
      tools: {},
    });
    deepStrictEqual(message, {
      type: "runtime_error",
      stdout: "",
      stderr: "giving up\nError: the program exited with code 1\n",
    });
    await t.server.app.runner.warm();
    const flag = await t.client.executeCode({
      ...python,
      code: `import sys\nsys.exit(True)\n`,
      tools: {},
    });
    deepStrictEqual(flag, {
      type: "runtime_error",
      stdout: "",
      stderr: "Error: the program exited with code 1\n",
    });
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

// ─── the step API ───────────────────────────────────────────────────────────────────────────

onePythonServer(
  "python: a step batches every call of an asyncio.gather, then resumes to the end",
  async (t) => {
    const code = `
import asyncio
from tools import double
a, b = await asyncio.gather(double(1), double(x=2))
c = await double(a + b)
print(a, b, c)
`;
    const tools = {
      double: (x: number | { x: number }) => 2 * (typeof x === "number" ? x : x.x),
    };
    let step = await t.client.executeCodeStep({ ...python, code, toolNames: ["double"] });
    strictEqual(step.type, "tool_call");
    if (step.type !== "tool_call") return;
    deepStrictEqual(step.tool_calls.map((c) => [c.args, c.kwargs]), [[[1], {}], [[], { x: 2 }]]);
    const batches: number[] = [step.tool_calls.length];
    while (step.type === "tool_call") {
      const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, tools);
      step = await t.client.executeCodeStep({
        ...python,
        code,
        toolNames: ["double"],
        state: step.state,
        toolResults,
        toolErrors,
      });
      if (step.type === "tool_call") batches.push(step.tool_calls.length);
    }
    deepStrictEqual(batches, [2, 1]);
    deepStrictEqual(step, { type: "success", stdout: "2 4 12\n", stderr: "" });
  },
);

onePythonServer(
  "python: a step waits for calls issued after other awaits, not for sleeping paths",
  async (t) => {
    const code = `
import asyncio
from tools import echo

async def later(x):
    for _ in range(3):
        await asyncio.sleep(0)
    return await echo(x)

async def sleepy(x):
    await asyncio.sleep(0.2)
    return await echo(x)

print(await asyncio.gather(echo("now"), later("later"), sleepy("sleepy")))
`;
    const step = await t.client.executeCodeStep({ ...python, code, toolNames: ["echo"] });
    strictEqual(step.type, "tool_call", JSON.stringify(step));
    if (step.type !== "tool_call") return;
    deepStrictEqual(step.tool_calls.map((c) => c.args), [["now"], ["later"], ["sleepy"]]);
    const { toolResults } = await runStepToolCalls(step.tool_calls, { echo: (x: string) => x });
    const end = await t.client.executeCodeStep({
      ...python,
      code,
      toolNames: ["echo"],
      state: step.state,
      toolResults,
    });
    deepStrictEqual(end, { type: "success", stdout: "['now', 'later', 'sleepy']\n", stderr: "" });
  },
);
