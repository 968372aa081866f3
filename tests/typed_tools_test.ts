/**
 * Typed tools and return values end to end, on real sandboxes in both languages: a call whose
 * input does not fit its tool's schema raises a `ToolError` in the program that says why, object
 * inputs take one object (Python: keyword arguments), output schemas are checked, and with
 * `returnValue` the program's `export default` or last expression comes back as `value`.
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { z } from "zod";
import { defineTool, runStepToolCalls } from "../client/mod.ts";
import { sharedServerTests, startServer } from "./_helpers.ts";

const seen: unknown[] = [];
const tools = {
  get_weather: defineTool({
    description: "Current weather of a city",
    input: z.object({ city: z.string(), days: z.number().int().default(1) }),
    output: z.object({ city: z.string(), celsius: z.number() }),
    execute: (input) => {
      seen.push(input);
      return input.city === "Nowhere"
        ? { city: input.city, celsius: "hot" as unknown as number }
        : { city: input.city, celsius: 21 };
    },
  }),
  shout: defineTool({
    input: { type: "string", minLength: 1 },
    execute: (text: string) => text.toUpperCase(),
  }),
};

Deno.test("TypeScript: invalid input raises a ToolError saying why, before the tool runs; output is checked", async () => {
  await using t = await startServer();
  seen.length = 0;
  const result = await t.client.executeCode({
    code: `import { get_weather, shout } from "tools";
const attempts = [
  () => get_weather({ city: 42 }),
  () => get_weather({ city: "Oslo" }, { extra: 1 }),
  () => get_weather({ city: "Nowhere" }),
  () => shout(""),
];
for (const attempt of attempts) {
  try { await attempt(); } catch (e) { console.log(e.name + ": " + e.message); }
}
console.log(JSON.stringify(await get_weather({ city: "Oslo" })), await shout("hi"));`,
    tools,
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: [
      "ToolError: Invalid input for get_weather(): city: Invalid input: expected string, received number",
      "ToolError: get_weather() takes one argument (an object), got 2",
      "ToolError: get_weather() returned an invalid result: celsius: Invalid input: expected number, received string",
      "ToolError: Invalid input for shout(): shorter than 1 characters",
      '{"city":"Oslo","celsius":21} HI',
      "",
    ].join("\n"),
    stderr: "",
  });
  // The tool ran only for valid input, with the schema's defaults filled in.
  deepStrictEqual(seen, [{ city: "Nowhere", days: 1 }, { city: "Oslo", days: 1 }]);
});

/** The tests that need a default server with one Python host share one. */
const onePythonServer = sharedServerTests("typed tools on one server with a Python host", {
  pythonPoolSize: 1,
});

onePythonServer(
  "Python: keyword arguments map onto an object input, and invalid ones raise ToolError",
  async (t) => {
    const result = await t.client.executeCode({
      language: "python",
      code: `from tools import get_weather, shout, ToolError
w = await get_weather(city="Oslo", days=2)
print(w["city"], w["celsius"])
for call in (lambda: get_weather(city=7), lambda: get_weather(), lambda: shout(text="x")):
    try:
        await call()
    except ToolError as e:
        print("ToolError:", e)
print(await shout("quiet"))`,
      tools,
    });
    deepStrictEqual(result, {
      type: "success",
      stdout: [
        "Oslo 21",
        "ToolError: Invalid input for get_weather(): city: Invalid input: expected string, received number",
        "ToolError: Invalid input for get_weather(): city: Invalid input: expected string, received undefined",
        "ToolError: shout() takes no keyword arguments",
        "QUIET",
        "",
      ].join("\n"),
      stderr: "",
    });
  },
);

onePythonServer(
  "return values: export default (TypeScript) and the last expression (Python) come back as value",
  async (t) => {
    const ts = await t.client.executeCode({
      code: `import { get_weather } from "tools";
const w = await get_weather({ city: "Rome" });
console.log("got it");
export default { summary: \`\${w.city} \${w.celsius}\`, n: [1, 2] };`,
      tools,
      returnValue: true,
    });
    deepStrictEqual(ts, {
      type: "success",
      stdout: "got it\n",
      stderr: "",
      value: { summary: "Rome 21", n: [1, 2] },
    });
    const py = await t.client.executeCode({
      language: "python",
      code:
        `w = await get_weather(city="Rome")\nprint("got it")\n{"summary": f"{w['city']} {w['celsius']}", "n": [1, 2]}`
          .replace(
            /^/,
            "from tools import get_weather\n",
          ),
      tools,
      returnValue: true,
    });
    deepStrictEqual(py, ts);
    // Not asked: no value (what the reference's client sees).
    const plain = await t.client.executeCode({ code: "export default 5;", tools: {} });
    deepStrictEqual(plain, { type: "success", stdout: "", stderr: "" });
    // Nothing to return: no value either; a value that is not JSON is an error that says so.
    deepStrictEqual(
      await t.client.executeCode({ code: "console.log(1)", tools: {}, returnValue: true }),
      { type: "success", stdout: "1\n", stderr: "" },
    );
    const bigint = await t.client.executeCode({
      code: "export default 1n;",
      tools: {},
      returnValue: true,
    });
    strictEqual(bigint.type, "runtime_error");
    strictEqual(
      bigint.stderr.split("\n")[0],
      "TypeError: The program's default export cannot be sent as JSON: Do not know how to serialize a BigInt",
    );
    const set = await t.client.executeCode({
      code: "{1, 2}",
      tools: {},
      language: "python",
      returnValue: true,
    });
    strictEqual(set.type, "runtime_error");
    strictEqual(
      set.stderr,
      "TypeError: the program's last expression cannot be sent as JSON: Object of type set is not JSON serializable\n",
    );
  },
);

Deno.test("a default export that rejects is reported as its own error, not as a value that is not JSON", async () => {
  await using t = await startServer({ toolCallTimeoutMs: 200 });
  const failed = await t.client.executeCode({
    code: `import { fails } from "tools";\nexport default fails();`,
    tools: {
      fails: () => {
        throw new Error("the tool broke");
      },
    },
    returnValue: true,
  });
  strictEqual(failed.type, "runtime_error");
  match(failed.stderr, /^ToolError: the tool broke\n {4}at code\.ts:2:/);
  const timedOut = await t.client.executeCode({
    code: `import { slow } from "tools";\nexport default slow();`,
    tools: { slow: () => new Promise(() => {}) },
    returnValue: true,
  });
  strictEqual(timedOut.type, "runtime_error");
  match(timedOut.stderr, /^TimeoutError: Tool call slow\(\) timed out after 0\.2 s\n/);
});

Deno.test("a return value over --max-tool-args-bytes is a runtime_error that says so", async () => {
  await using t = await startServer({ pythonPoolSize: 1, maxToolArgsBytes: 1024 });
  const ts = await t.client.executeCode({
    code: 'export default "x".repeat(2000);',
    tools: {},
    returnValue: true,
  });
  deepStrictEqual(ts, {
    type: "runtime_error",
    stdout: "",
    stderr:
      "Error: the program's return value exceeds the limit of 1024 bytes of JSON (2002 bytes)\n",
  });
  const py = await t.client.executeCode({
    language: "python",
    code: '"x" * 2000',
    tools: {},
    returnValue: true,
  });
  deepStrictEqual(py, {
    type: "runtime_error",
    stdout: "",
    stderr:
      "Error: the program's return value exceeds the limit of 1024 bytes of JSON (2002 bytes)\n",
  });
  // Within it, the same server returns it.
  const small = await t.client.executeCode({
    code: "export default 7;",
    tools: {},
    returnValue: true,
  });
  deepStrictEqual(small, { type: "success", stdout: "", stderr: "", value: 7 });
});

Deno.test("return values in the step API, warm and replayed", async () => {
  for (const warmResumeTtlMs of [60_000, 0]) {
    await using t = await startServer({ warmResumeTtlMs });
    const code = `import { get_weather } from "tools";
export default (await get_weather({ city: "Lima" })).celsius * 2;`;
    let step = await t.client.executeCodeStep({
      code,
      toolNames: ["get_weather"],
      returnValue: true,
    });
    while (step.type === "tool_call") {
      const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, tools);
      step = await t.client.executeCodeStep({
        code,
        toolNames: ["get_weather"],
        state: step.state,
        toolResults,
        toolErrors,
        returnValue: true,
      });
    }
    deepStrictEqual(step, { type: "success", stdout: "", stderr: "", value: 42 });
  }
});
