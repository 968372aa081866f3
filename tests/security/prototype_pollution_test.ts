/**
 * Prototype pollution attempts through tool results and tool arguments: `__proto__` and
 * `constructor.prototype` keys travel as plain data and pollute neither the program's
 * realm nor the server and client process (this one).
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

const POISON = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';

/** Asserts this process's Object.prototype carries no `polluted` key. */
function assertHostClean(): void {
  strictEqual(({} as Record<string, unknown>).polluted, undefined);
  strictEqual(Object.hasOwn(Object.prototype, "polluted"), false);
}

Deno.test("A tool result with __proto__ keys does not pollute the program's Object.prototype", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { poison } from "tools";
const r = await poison();
const merged = Object.assign({}, r);
const spread = { ...r };
const cloned = structuredClone(r);
console.log(JSON.stringify(Object.keys(r)));
console.log(({}).polluted, Object.prototype.polluted, merged.polluted, spread.polluted, cloned.polluted);
console.log(Object.getPrototypeOf(r) === Object.prototype, JSON.stringify(r));`,
    { tools: { poison: () => JSON.parse(POISON) } },
  );
  strictEqual(result.type, "success", result.stderr);
  deepStrictEqual(result.stdout.split("\n"), [
    `["__proto__","constructor"]`,
    "undefined undefined undefined undefined undefined",
    `true ${POISON}`,
    "",
  ]);
  assertHostClean();
  await assertStillServes(server);
});

Deno.test("Tool arguments with __proto__ keys reach the tool as data and do not pollute the client", async () => {
  await using server = await startServer();
  const received: unknown[] = [];
  const { result, calls } = await attempt(
    server,
    `import { record } from "tools";
const poison = JSON.parse('${POISON}');
await record(poison);
await record.invoke([], poison);
console.log(({}).polluted);`,
    {
      tools: {
        record: (...args: unknown[]) => {
          received.push(...args);
          return null;
        },
      },
    },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "undefined\n");
  strictEqual(calls.length, 2);
  for (const value of received) {
    deepStrictEqual(Object.keys(value as object), ["__proto__", "constructor"]);
    strictEqual(Object.getPrototypeOf(value), Object.prototype);
  }
  strictEqual(JSON.stringify(received[0]), POISON);
  strictEqual(JSON.stringify(calls[1]?.kwargs), POISON);
  assertHostClean();
  await assertStillServes(server);
});

Deno.test("A program that pollutes its own Object.prototype sends only its own data", async () => {
  await using server = await startServer();
  const received: unknown[] = [];
  const { result } = await attempt(
    server,
    `import { echo } from "tools";
Object.prototype.polluted = true;
Array.prototype.polluted = true;
console.log(JSON.stringify(await echo({ a: 1 })));`,
    {
      tools: {
        echo: (value: unknown) => {
          received.push(value);
          return value;
        },
      },
    },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, `{"a":1}\n`);
  deepStrictEqual(received, [{ a: 1 }]);
  assertHostClean();
  await assertStillServes(server);
});

Deno.test("A program that poisons JSON with Object.prototype.toJSON only breaks its own execution", async () => {
  await using server = await startServer();
  const { result, calls } = await attempt(
    server,
    `import { echo } from "tools";
Object.defineProperty(Object.prototype, "toJSON", {
  value: () => ({ __proto__: { polluted: true }, polluted: true }),
  configurable: true,
});
console.log(await echo({ a: 1 }));`,
    { tools: { echo: (value: unknown) => value } },
  );
  // The runner's own JSON.stringify now yields an object for the argument list: the server
  // refuses the malformed call and stops the sandbox before anything reaches the client.
  strictEqual(result.type, "runtime_error");
  strictEqual(
    result.stderr.startsWith(
      "Error: the sandbox was stopped because it broke the protocol (unexpected line from sandbox",
    ),
    true,
    result.stderr,
  );
  deepStrictEqual(calls, []);
  assertHostClean();
  await assertStillServes(server);
});
