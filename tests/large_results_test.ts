/**
 * Tool results over the inline parsing size go through the parser worker and reach the program
 * as their JSON text (never rebuilt on the server's main thread): the same values as small
 * ones, on the stream API, in a step's warm resume, and replayed from a state's records.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { INLINE_BYTES } from "../server/json_parser.ts";
import { startServer } from "./_helpers.ts";

/** A result of ~`size` bytes of JSON with every kind of value in it. */
function bigResult(size: number) {
  const item = { s: 'é中😀\u0000"\\', n: -1.5e-7, i: 2 ** 53 - 1, b: true, z: null, a: [1, [2]] };
  const count = Math.ceil(size / JSON.stringify(item).length);
  return Array.from({ length: count }, (_, k) => ({ ...item, k }));
}

const CODE = `import { big, small } from "tools";
const a = await big();
const b = await small();
console.log(a.length, JSON.stringify(a).length, a[7].s, a[7].n, a[7].i, JSON.stringify(a.at(-1)), b);`;

const PY = `from tools import big, small
import json
a = await big()
b = await small()
print(len(a), a[7]["s"], a[7]["n"], a[7]["i"], json.dumps(a[-1], ensure_ascii=False), b)`;

Deno.test("a tool result over the inline size reaches the program whole, on the stream API", async () => {
  await using t = await startServer({ pythonPoolSize: 1 });
  const result = bigResult(INLINE_BYTES * 2);
  const tools = { big: () => result, small: () => "ok" };
  const ts = await t.client.executeCode({ code: CODE, tools });
  strictEqual(ts.type, "success", ts.stderr);
  const last = JSON.stringify(result.at(-1));
  strictEqual(
    ts.stdout,
    `${result.length} ${
      JSON.stringify(result).length
    } é中😀\u0000"\\ -1.5e-7 9007199254740991 ${last} ok\n`,
  );
  const py = await t.client.executeCode({ code: PY, tools, language: "python" });
  strictEqual(py.type, "success", py.stderr);
  strictEqual(
    py.stdout,
    `${result.length} é中😀\u0000"\\ -1.5e-07 9007199254740991 ${
      JSON.stringify(result.at(-1)).replaceAll(",", ", ").replaceAll(":", ": ")
        .replace("-1.5e-7", "-1.5e-07")
    } ok\n`,
  );
});

for (const warmResumeTtlMs of [60_000, 0]) {
  Deno.test(`a large tool result in the step API is answered the same warm and replayed (ttl ${warmResumeTtlMs} ms)`, async () => {
    await using t = await startServer({ warmResumeTtlMs });
    const result = bigResult(INLINE_BYTES * 2);
    const toolNames = ["big", "small"];
    let step = await t.client.executeCodeStep({ code: CODE, toolNames });
    const answers: Record<string, unknown> = { big: result, small: "ok" };
    while (step.type === "tool_call") {
      step = await t.client.executeCodeStep({
        code: CODE,
        toolNames,
        state: step.state,
        toolResults: step.tool_calls.map((call) => answers[call.tool_name] as never),
      });
    }
    deepStrictEqual(step, {
      type: "success",
      stdout: `${result.length} ${
        JSON.stringify(result).length
      } é中😀\u0000"\\ -1.5e-7 9007199254740991 ${JSON.stringify(result.at(-1))} ok\n`,
      stderr: "",
    });
  });
}
