import { deepStrictEqual, doesNotMatch, match, ok, rejects, strictEqual } from "node:assert/strict";
import { delay, startServer } from "./_helpers.ts";

Deno.test("executeCode() runs the README example in a sandbox", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `
import { get_weather } from "tools";

const weather = await get_weather("London", "UK");
console.log(\`The weather is: \${weather}\`);
`,
    tools: {
      get_weather: (city: string, country: string) => `Weather in ${city}, ${country}: Sunny, 22°C`,
      search_database: (_query: string) => [{ id: 1, name: "Result" }],
    },
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "The weather is: Weather in London, UK: Sunny, 22°C\n",
    stderr: "",
  });
});

Deno.test("executeCode() has both calls of a Promise.all outstanding before answering either", async () => {
  await using t = await startServer();
  let arrived = 0;
  const both = Promise.withResolvers<void>();
  const barrier = async (value: string) => {
    if (++arrived === 2) both.resolve();
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("the other call never arrived")), 3000)
    );
    await Promise.race([both.promise, timeout]);
    return value;
  };
  const result = await t.client.executeCode({
    code: `
import * as tools from "tools";
const [w, r] = await Promise.all([tools.get_weather("Tokyo"), tools.search_database("hotels")]);
console.log(w, r);
`,
    tools: { get_weather: barrier, search_database: barrier },
  });
  deepStrictEqual(result, { type: "success", stdout: "Tokyo hotels\n", stderr: "" });
});

Deno.test("executeCode() passes keyword arguments as a trailing object", async () => {
  await using t = await startServer();
  const seen: unknown[][] = [];
  const result = await t.client.executeCode({
    code: `
import { get_weather } from "tools";
console.log(await get_weather.invoke(["London"], { country: "UK" }));
`,
    tools: {
      get_weather: (...args: unknown[]) => {
        seen.push(args);
        return "ok";
      },
    },
    onToolCall: (call) =>
      deepStrictEqual([call.args, call.kwargs], [["London"], { country: "UK" }]),
  });
  deepStrictEqual(seen, [["London", { country: "UK" }]]);
  strictEqual(result.type, "success");
});

Deno.test("executeCode() puts keyword arguments that name a plain function's parameters in their places", async () => {
  await using t = await startServer();
  const seen: unknown[][] = [];
  const result = await t.client.executeCode({
    code: `
import { add } from "tools";
console.log(await add.invoke([], { b: 2, a: 1 }), await add.invoke([10], { b: 5 }));
console.log(JSON.stringify(await add.invoke([1], { a: 5 })));
`,
    tools: {
      add: (a: number, b: number) => {
        seen.push([a, b]);
        return a + b;
      },
    },
  });
  // The last call names a parameter already given: its keywords come as one trailing object.
  deepStrictEqual(seen, [[1, 2], [10, 5], [1, { a: 5 }]]);
  deepStrictEqual(result, { type: "success", stdout: '3 15\n"1[object Object]"\n', stderr: "" });
});

Deno.test("executeCode() raises a failed tool's error inside the program", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `
import { flaky } from "tools";
try {
  await flaky();
} catch (error) {
  console.log("caught", error.name, error.message);
}
await flaky();
`,
    tools: {
      flaky: () => {
        throw new Error("database is down");
      },
    },
  });
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "caught ToolError database is down\n");
  match(result.stderr, /^ToolError: database is down\n/);
  match(result.stderr, /code\.ts:8:/);
});

Deno.test("executeCode() raises a catchable TimeoutError when a tool call takes too long", async () => {
  await using t = await startServer({ toolCallTimeoutMs: 300 });
  const result = await t.client.executeCode({
    code: `
import { slow, fast } from "tools";
try {
  await slow();
} catch (error) {
  console.log(error.name, error.message);
}
console.log(await fast());
`,
    tools: {
      slow: () => new Promise((resolve) => setTimeout(() => resolve("late"), 800)),
      fast: () => "still running",
    },
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "TimeoutError Tool call slow() timed out after 0.3 s\nstill running\n",
    stderr: "",
  });
});

Deno.test("executeCode() keeps the output printed before an execution timeout", async () => {
  await using t = await startServer({ codeExecutionTimeoutMs: 500 });
  const result = await t.client.executeCode({
    code: `console.log("before"); console.error("warned"); await new Promise(() => {});`,
    tools: {},
  });
  strictEqual(result.type, "timeout_error");
  strictEqual(result.stdout, "before\n");
  match(result.stderr, /^warned\nTimeoutError: the program did not finish within 0\.5 s\n$/);
});

Deno.test("executeCode() reports a syntax error with its line and column", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `const a = 1;\nconsole.log(a);\nconst b: number = ;\n`,
    tools: {},
  });
  strictEqual(result.type, "syntax_error");
  strictEqual(result.stdout, "");
  match(result.stderr, /^SyntaxError: Expression expected/);
  match(result.stderr, /code\.ts:3:19/);
  doesNotMatch(result.stderr, /blob:|TypeError/);
});

Deno.test("executeCode() reports an early error of the JavaScript engine as a syntax error", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({ code: `let a = 1;\nlet a = 2;\n`, tools: {} });
  strictEqual(result.type, "syntax_error");
  match(result.stderr, /Identifier 'a' has already been declared/);
});

Deno.test("executeCode() reports an import of a tool the program was not given as a syntax error", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `import { nope } from "tools";\nawait nope();`,
    tools: { other: () => 1 },
  });
  strictEqual(result.type, "syntax_error");
  match(result.stderr, /does not provide an export named 'nope'/);
  doesNotMatch(result.stderr, /blob:/);
});

Deno.test("executeCode() reports a runtime error with a stack in the program's line numbers", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `function parse(text: string) {
  return JSON.parse(text);
}
console.log("start");
parse("{oops");
`,
    tools: {},
  });
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "start\n");
  match(result.stderr, /^SyntaxError: /);
  match(result.stderr, /at parse \(code\.ts:2:15\)/);
  match(result.stderr, /at code\.ts:5:1/);
  doesNotMatch(result.stderr, /blob:|worker_main|bootstrap|\/work\//);
});

Deno.test("executeCode() runs JavaScript and names it code.js in stacks", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `const x = [1, 2].map((n) => n * 2);\nconsole.log(x);\nnull.boom;`,
    tools: {},
    language: "javascript",
  });
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "[ 2, 4 ]\n");
  match(result.stderr, /TypeError: Cannot read properties of null/);
  match(result.stderr, /code\.js:3:/);
});

Deno.test("executeCode() formats console output like Deno's console", async () => {
  await using t = await startServer();
  const result = await t.client.executeCode({
    code: `console.log("a", 1, { b: [1, "x"] }, new Map([[1, 2]]));
console.info("%s is %d", "x", 42);
console.warn("careful");
console.error(new Error("shown").message);
console.table([{ a: 1 }]);`,
    tools: {},
  });
  strictEqual(result.type, "success");
  strictEqual(
    result.stdout,
    'a 1 { b: [ 1, "x" ] } Map(1) { 1 => 2 }\nx is 42\n' +
      "┌───────┬───┐\n│ (idx) │ a │\n├───────┼───┤\n│     0 │ 1 │\n└───────┴───┘\n",
  );
  strictEqual(result.stderr, "careful\nshown\n");
});

Deno.test("executeCode() streams output while the program runs when onOutput is given", async () => {
  await using t = await startServer();
  const chunks: string[] = [];
  let sawOutputBeforeTool = false;
  const result = await t.client.executeCode({
    code:
      `import { wait } from "tools";\nconsole.log("one");\nawait wait();\nconsole.error("two");`,
    tools: {
      wait: () => {
        sawOutputBeforeTool = chunks.includes("stdout:one\n");
        return null;
      },
    },
    onOutput: (frame) => chunks.push(`${frame.type}:${frame.data}`),
  });
  ok(sawOutputBeforeTool, "the output frame arrives before the tool call it precedes");
  deepStrictEqual(chunks, ["stdout:one\n", "stderr:two\n"]);
  deepStrictEqual(result, { type: "success", stdout: "one\n", stderr: "two\n" });
});

Deno.test("executeCode() kills the sandbox when the client aborts", async () => {
  await using t = await startServer();
  const controller = new AbortController();
  const started = Promise.withResolvers<void>();
  const pending = t.client.executeCode({
    code: `import { started } from "tools";\nawait started();\nwhile (true) {}`,
    tools: { started: () => started.resolve() },
    signal: controller.signal,
  });
  await started.promise;
  controller.abort();
  await rejects(pending, { name: "AbortError" });
  for (let i = 0; i < 100 && t.server.app.running > 0; i++) await delay(20);
  strictEqual(t.server.app.running, 0);
  ok(t.logs.some((line) => line.includes("the client disconnected")), t.logs.join("\n"));
});

Deno.test("executeCode() keeps 50 concurrent executions' tool results apart", async () => {
  await using t = await startServer({ poolSize: 2 });
  const runs = Array.from({ length: 50 }, (_, i) =>
    t.client.executeCode({
      code: `
import { echo } from "tools";
const out = [];
for (let j = 0; j < 3; j++) out.push(await echo(${i}, j));
const both = await Promise.all([echo(${i}, "a"), echo(${i}, "b")]);
console.log(JSON.stringify([...out, ...both]));
`,
      tools: {
        echo: async (i: number, j: number | string) => {
          await delay(Math.random() * 20);
          return `${i}:${j}`;
        },
      },
    }));
  const results = await Promise.all(runs);
  results.forEach((result, i) => {
    deepStrictEqual(result, {
      type: "success",
      stdout: JSON.stringify([`${i}:0`, `${i}:1`, `${i}:2`, `${i}:a`, `${i}:b`]) + "\n",
      stderr: "",
    });
  });
  strictEqual(t.logs.filter((line) => / success /.test(line)).length, 50);
});
