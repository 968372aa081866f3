/**
 * Deeply nested JSON attempts, from the program and from the tool side: nesting never
 * crashes the sandbox or the server; the program gets the value or an error it can catch.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

/** `depth` arrays nested in each other, built without recursion. */
function nested(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Program text that prints the nesting depth of `v` (or the error it got). */
const PRINT_DEPTH = `let d = 0;
while (Array.isArray(v) && v.length) { v = v[0]; d++; }
console.log(d);`;

Deno.test("JSON.parse() of a 1,000,000-deep string in the program finishes", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `let v = JSON.parse("[".repeat(1e6) + "]".repeat(1e6));
${PRINT_DEPTH}`,
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "999999\n");
  await assertStillServes(server);
});

Deno.test("A tool call with 100,000-deep arguments reaches the tool intact", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import { depth } from "tools";
let v = [];
for (let i = 0; i < 100000; i++) v = [v];
console.log(await depth(v));`,
    {
      tools: {
        depth: (value: unknown) => {
          let d = 0;
          while (Array.isArray(value) && value.length) [value, d] = [value[0], d + 1];
          return d;
        },
      },
    },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "100000\n");
  strictEqual(calls.length, 1);
  await assertStillServes(server);
});

Deno.test("A tool result nested 10,000 deep reaches the program or fails inside it", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { deep } from "tools";
let v;
try {
  v = await deep();
} catch (e) {
  console.log("caught", e.name);
  Deno.exit(0);
}
${PRINT_DEPTH}`,
    { tools: { deep: () => nested(10_000) } },
  );
  strictEqual(result.type, "success", `the sandbox did not survive: ${result.stderr}`);
  ok(/^(10000|caught \w+)\n$/.test(result.stdout), result.stdout);
  await assertStillServes(server);
});

Deno.test("A program cannot crash its sandbox by having a tool echo a deeply nested value", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { echo } from "tools";
let v = [];
for (let i = 0; i < 10000; i++) v = [v];
try {
  v = await echo(v);
} catch (e) {
  console.log("caught", e.name);
  Deno.exit(0);
}
${PRINT_DEPTH}`,
    { tools: { echo: (value: unknown) => value } },
  );
  strictEqual(result.type, "success", `the sandbox did not survive: ${result.stderr}`);
  ok(/^(10000|caught \w+)\n$/.test(result.stdout), result.stdout);
  ok(!result.stderr.includes("/work/") && !result.stderr.includes("bootstrap"), result.stderr);
  await assertStillServes(server);
});
