/**
 * Python programs on the step API, end to end (a real server, real Pyodide sandboxes, our
 * TypeScript client): the reference README's snippets end exactly as they do streaming, and a
 * step batches every call of an `asyncio.gather`, then resumes to the end. Streaming:
 * python_test.ts.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runStepToolCalls, type ToolHandler } from "../client/mod.ts";
import { sharedServerTests } from "./_helpers.ts";

const python = { language: "python" } as const;

/** The tests that need no server of their own: steps of one test, on one server. */
const onePythonServer = sharedServerTests("python: steps on one server with a Python host", {
  pythonPoolSize: 1,
});

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
