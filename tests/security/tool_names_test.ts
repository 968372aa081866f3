/**
 * Tool names that are not identifiers, or that mean something to JavaScript: the program
 * sees exactly one function per given name, calls reach the client under the exact name,
 * no name becomes code, and no call is made that the program did not write.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ToolHandler } from "../../client/mod.ts";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

const INJECTION = 'x"; globalThis.pwned = 1; "';
const NAMES = [
  "get-weather",
  "a b",
  "then",
  "__proto__",
  "default",
  "constructor",
  "toString",
  INJECTION,
];

/** One tool per name that answers with its own name and arguments. */
function namedTools(names: string[]): Record<string, ToolHandler> {
  const tools: Record<string, ToolHandler> = {};
  for (const name of names) {
    Object.defineProperty(tools, name, {
      value: (...args: unknown[]) => `${name}:${JSON.stringify(args)}`,
      enumerable: true,
    });
  }
  return tools;
}

Deno.test("Every odd tool name is one callable export of the tools namespace", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import * as tools from "tools";
console.log(JSON.stringify(Object.keys(tools)));
for (const name of Object.keys(tools)) {
  console.log(typeof tools[name], tools[name].name === name, await tools[name](1));
}
console.log(typeof globalThis.pwned);`,
    { tools: namedTools(NAMES) },
  );
  strictEqual(result.type, "success", result.stderr);
  const sorted = [...NAMES].sort();
  deepStrictEqual(result.stdout.trimEnd().split("\n"), [
    JSON.stringify(sorted),
    ...sorted.map((name) => `function true ${name}:[1]`),
    "undefined",
  ]);
  deepStrictEqual(calls.map((call) => call.tool_name), sorted);
  await assertStillServes(server);
});

Deno.test("Odd tool names can be imported by string name, including default", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import fallback, { "get-weather" as weather, "a b" as ab, then, "__proto__" as proto, constructor } from "tools";
console.log(await weather(1), await ab(2), await then(3), await proto(4), await constructor(5), await fallback(6));`,
    { tools: namedTools(NAMES) },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(
    result.stdout,
    "get-weather:[1] a b:[2] then:[3] __proto__:[4] constructor:[5] default:[6]\n",
  );
  deepStrictEqual(calls.map((call) => call.tool_name), [
    "get-weather",
    "a b",
    "then",
    "__proto__",
    "constructor",
    "default",
  ]);
  await assertStillServes(server);
});

Deno.test("A tool name holding JavaScript does not run as code", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import { ${JSON.stringify(INJECTION)} as tool } from "tools";
console.log(typeof globalThis.pwned, await tool());`,
    { tools: namedTools([INJECTION]) },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, `undefined ${INJECTION}:[]\n`);
  deepStrictEqual(calls.map((call) => call.tool_name), [INJECTION]);
  await assertStillServes(server);
});

Deno.test("Importing a tool the program was not given is a syntax_error and calls nothing", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import { secret } from "tools";
console.log(await secret());`,
    { tools: namedTools(["public"]) },
  );
  strictEqual(result.type, "syntax_error");
  strictEqual(
    result.stderr,
    "SyntaxError: The requested module 'tools' does not provide an export named 'secret' at code.ts:1:10\n",
  );
  deepStrictEqual(calls, []);
  await assertStillServes(server);
});

Deno.test("await import('tools') with a tool named then settles and calls no tool", async () => {
  await using server = await startServer({ codeExecutionTimeoutMs: 3000 });
  const { result, calls } = await attempt(
    server,
    `try {
  const tools = await import("tools");
  console.log("resolved", typeof tools.other);
} catch (e) {
  console.log("rejected", e.name);
}`,
    { tools: namedTools(["then", "other"]) },
  );
  // A module namespace with a callable "then" export is a thenable: awaiting it must not
  // turn into a call of that tool (with the promise's resolve and reject functions as
  // arguments). Whether the import then resolves to the other tools or rejects with a clear
  // error is the runner's choice; hanging until the timeout is not.
  deepStrictEqual(calls.map((call) => [call.tool_name, call.args]), []);
  strictEqual(result.type, "success", `${result.type}: ${result.stderr}`);
  ok(/^(resolved function|rejected \w+)\n$/.test(result.stdout), result.stdout);
  await assertStillServes(server);
});
