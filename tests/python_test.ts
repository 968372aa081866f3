/**
 * Python programs end to end: a real server, real Pyodide sandboxes, our TypeScript client.
 * The programs are the reference README's, and the semantics the reference defines for tools
 * (positional and keyword arguments, concurrent calls). On the step API: python_step_test.ts;
 * what a run is given and how it ends: python_runs_test.ts.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sharedServerTests } from "./_helpers.ts";

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
