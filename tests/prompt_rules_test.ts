/**
 * Prompts are product: every rule `describeTools` tells a model is tried, here, by a program
 * that does what the rule says, run through the client the rules were written for (ours, with
 * and without return values, and the reference Python client 0.2.0), and the outcome is checked.
 * Each variant's rules paragraph must be exactly the rules tested here, so a new rule without a
 * test fails.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { z } from "zod";
import {
  defineTool,
  type DescribeOptions,
  describeTools,
  type ExecuteCodeResult,
} from "../client/mod.ts";
import { startServer, type TestServer } from "./_helpers.ts";
import { runClient } from "./interop/_python.ts";
import { needsPython } from "./interop/venv.ts";

/** `meet(name)` returns once two calls have arrived: only calls that run at once pass. */
function barrier() {
  const arrived = new Set<string>();
  const both = Promise.withResolvers<void>();
  return async (name: string) => {
    arrived.add(name);
    if (arrived.size === 2) both.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      both.promise,
      new Promise((_, reject) => timer = setTimeout(() => reject(new Error("alone")), 5000)),
    ]).finally(() => clearTimeout(timer));
    return name;
  };
}

/** The tools, as the model is told of them: an object input, and plain functions. */
function tools() {
  return {
    get_weather: defineTool({
      description: "Current weather of a city",
      input: z.object({ city: z.string() }),
      execute: ({ city }) => ({ city, celsius: 21 }),
    }),
    add: (a: number, b: number) => a + b,
    fail: () => {
      throw new Error("the service is down");
    },
    meet: barrier(),
  };
}

/** The rules paragraph of a prompt (before the declarations). */
function rulesOf(options: DescribeOptions): string {
  const text = describeTools(tools(), options);
  return text.slice(0, text.indexOf("\n\n"));
}

const HOST_PATH = Deno.env.get("PATH") ?? "";
const README = new URL("../README.md", import.meta.url).pathname;

/** What a program does for each rule, in each language. */
const PROGRAMS = {
  typescript: {
    imports: `import { add } from "tools";\nconsole.log(await add(1, 2));`,
    concurrent: `import { meet } from "tools";
const [a, b] = await Promise.all([meet("a"), meet("b")]);
console.log(a, b);`,
    calling: `import { add, get_weather } from "tools";
console.log((await get_weather({ city: "Paris" })).celsius, await add(2, 3));`,
    failing: `import { fail } from "tools";
try { await fail(); } catch (e) { console.log("caught", e.name, e.message); }`,
    output: `const hidden = "not printed";\nconsole.log("printed");\nexport default { value: 42 };`,
    wayOut: `for (const attempt of [
  () => fetch("http://127.0.0.1:9/"),
  () => Deno.readTextFile(${JSON.stringify(README)}),
  () => Deno.env.get("PATH"),
]) {
  try { await attempt(); console.log("reached"); } catch (e) { console.log(e.name); }
}`,
  },
  python: {
    imports: `from tools import add\nprint(await add(1, 2))`,
    concurrent:
      `import asyncio\nfrom tools import meet\nprint(*await asyncio.gather(meet("a"), meet("b")))`,
    calling: `from tools import add, get_weather
print((await get_weather(city="Paris"))["celsius"], await add(2, 3))`,
    failing: `import tools
try:
    await tools.fail()
except Exception as e:
    print("caught", type(e).__name__, e)`,
    output: `hidden = "not printed"\nprint("printed")\n{"value": 42}`,
    wayOut: `import os, urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:9/", timeout=2)
    print("reached")
except Exception as e:
    print(type(e).__name__)
try:
    open(${JSON.stringify(README)}).read()
    print("reached")
except Exception as e:
    print(type(e).__name__)
print("reached" if os.environ.get("PATH") == ${JSON.stringify(HOST_PATH)} else "own environment")`,
  },
};

type Rule = keyof typeof PROGRAMS.typescript;

/** What each rule's program must give, through a client that delivers what the rules say. */
function check(
  rule: Rule,
  language: "typescript" | "python",
  outcome: {
    result?: ExecuteCodeResult & { value?: unknown };
    error?: { type: string; message: string };
  },
  options: { reference: boolean; returnValue: boolean },
): void {
  const { result, error } = outcome;
  if (rule === "failing" && options.reference) {
    // "A tool that fails ends the whole program, with no error to catch."
    ok(error, `the execution went on: ${JSON.stringify(result)}`);
    strictEqual(error.type, "RuntimeError");
    strictEqual(error.message, "the service is down");
    return;
  }
  ok(result, `the client raised: ${JSON.stringify(error)}`);
  strictEqual(result.type, "success", JSON.stringify(result));
  const lines = result.stdout.trimEnd().split("\n");
  switch (rule) {
    case "imports":
      return strictEqual(result.stdout, "3\n");
    case "concurrent":
      return strictEqual(result.stdout, "a b\n");
    case "calling":
      return strictEqual(result.stdout, "21 5\n");
    case "failing":
      return strictEqual(result.stdout, "caught ToolError the service is down\n");
    case "output":
      strictEqual(result.stdout, "printed\n");
      ok(!JSON.stringify(result).includes("not printed"));
      if (options.returnValue) deepStrictEqual(result.value, { value: 42 });
      else ok(!("value" in result), `a value came back: ${JSON.stringify(result)}`);
      return;
    case "wayOut":
      strictEqual(lines.length, 3, result.stdout);
      ok(!lines.includes("reached"), result.stdout);
      if (language === "python") strictEqual(lines[2], "own environment");
  }
}

/** The rules of each variant, exactly, and the program that tries each. */
function rules(
  language: "typescript" | "python",
  options: { reference: boolean; returnValue: boolean },
): [string, Rule][] {
  const ts = language === "typescript";
  return [
    [
      ts
        ? 'Write a TypeScript program that uses these tools. Import the tools you need from "tools", for example `import { name } from "tools";`.'
        : "Write a Python program that uses these tools. Import the tools you need from `tools`, for example `from tools import name`.",
      "imports",
    ],
    [
      ts
        ? "Every tool is async: `await` it, and use `Promise.all` to run several at once."
        : "Every tool is a coroutine: `await` it, and use `asyncio.gather` to run several at once.",
      "concurrent",
    ],
    [
      ts
        ? "Call each tool as declared: a tool with an object input takes one object."
        : "Call each tool as its stub says: keyword arguments for the parameters after `*`, positional arguments for those before `/`.",
      "calling",
    ],
    [
      options.reference
        ? `A tool that fails ends the whole program, with no ${
          ts ? "error" : "exception"
        } to catch.`
        : ts
        ? "A tool that fails throws an error named ToolError whose message says why."
        : "A tool that fails raises `tools.ToolError`, whose message says why.",
      "failing",
    ],
    [
      options.returnValue
        ? ts
          ? "Only what the program prints with console.log, or returns with `export default`, comes back to you: print or return what you need, not more."
          : "Only what the program prints, or the value of its last expression, comes back to you: print or return what you need, not more."
        : ts
        ? "Only what the program prints with console.log comes back to you: print what you need, not more."
        : "Only what the program prints comes back to you: print what you need, not more.",
      "output",
    ],
    [
      "The program cannot reach the network, the machine's files or its environment; the tools are its only way out.",
      "wayOut",
    ],
  ];
}

async function ourClient(
  t: TestServer,
  language: "typescript" | "python",
  code: string,
  returnValue: boolean,
) {
  return { result: await t.client.executeCode({ code, tools: tools(), language, returnValue }) };
}

for (const language of ["typescript", "python"] as const) {
  Deno.test(`describeTools' ${language} rules hold through our client, with and without return values`, async (t) => {
    await using server = await startServer({ pythonPoolSize: language === "python" ? 1 : 0 });
    for (const returnValue of [true, false]) {
      const options = { reference: false, returnValue };
      const expected = rules(language, options);
      strictEqual(rulesOf({ language, returnValue }), expected.map(([text]) => text).join(" "));
      for (const [text, rule] of expected) {
        await t.step(`${returnValue ? "returnValue: " : ""}${text}`, async () => {
          const outcome = await ourClient(server, language, PROGRAMS[language][rule], returnValue);
          check(rule, language, outcome, options);
        });
      }
    }
  });

  Deno.test(
    `describeTools' ${language} rules for the reference client hold through the reference Python client 0.2.0`,
    needsPython,
    async (t) => {
      await using server = await startServer({ pythonPoolSize: language === "python" ? 1 : 0 });
      const options = { reference: true, returnValue: false };
      const expected = rules(language, options);
      strictEqual(
        rulesOf({ language, client: "reference" }),
        expected.map(([text]) => text).join(" "),
      );
      const report = await runClient(
        "0.2.0",
        "prompt_client.py",
        language,
        { baseUrl: server.url, apiKey: "test-key" },
        { args: [JSON.stringify(expected.map(([, rule]) => PROGRAMS[language][rule]))] },
      );
      for (const [index, [text, rule]] of expected.entries()) {
        await t.step(text, () => {
          const outcome = report.results![index]!;
          check(rule, language, {
            ...(outcome.result ? { result: outcome.result as unknown as ExecuteCodeResult } : {}),
            ...(outcome.error ? { error: outcome.error } : {}),
          }, options);
        });
      }
    },
  );
}

Deno.test("describeTools refuses to promise a return value through the reference client", () => {
  let thrown: unknown;
  try {
    describeTools(tools(), { client: "reference", returnValue: true });
  } catch (error) {
    thrown = error;
  }
  ok(thrown instanceof TypeError);
});
