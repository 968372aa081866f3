/**
 * The README's TypeScript examples run as written against a real server: each block is taken
 * from README.md, pointed at the test server, and run in its own `deno run`.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { API_KEY, startServer } from "./_helpers.ts";

const root = new URL("..", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", root));
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** The block that starts with `first`, pointed at `url` and the in-tree client. */
function block(first: string, url: string): string {
  const code = blocks.find((b) => b.startsWith(first));
  if (code === undefined) throw new Error(`no README block starts with ${first}`);
  return code
    .replaceAll('"@progtc/progtc/client"', JSON.stringify(new URL("client/mod.ts", root).href))
    .replaceAll('"http://127.0.0.1:8000"', JSON.stringify(url))
    .replaceAll('"your-secret-key"', JSON.stringify(API_KEY));
}

async function run(code: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--config", new URL("deno.json", root).pathname, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.code, 0, stderr);
    return new TextDecoder().decode(output.stdout);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("README: the first example (typed tools, describeTools, a return value)", async () => {
  await using t = await startServer();
  const stdout = await run(
    block("import { defineTool, describeTools, ProgtcClient }", t.url) +
      "\nconsole.log(JSON.stringify(prompt));\n",
  );
  const [printed, prompt] = stdout.split(/\n(?=")/);
  deepStrictEqual(printed, `3 hotels\n { celsius: 22, best: "Tokyo hotel 1" }`);
  const text = JSON.parse(prompt!);
  for (
    const line of [
      'declare module "tools" {',
      "  /** Current weather of a city */",
      "  export function get_weather(input: { city: string; country?: string }): " +
      "Promise<{ city: string; celsius: number }>;",
    ]
  ) strictEqual(text.includes(line), true, `${line} in ${text}`);
});

Deno.test("README: the step loop", async () => {
  await using t = await startServer();
  strictEqual(
    await run(block("import { ProgtcClient, runStepToolCalls }", t.url)),
    "Sunny in London\n\n", // the program's line, then console.log's own newline
  );
});

Deno.test("README: a session", async () => {
  await using t = await startServer();
  strictEqual(
    await run(
      block(
        'import { ProgtcClient } from "@progtc/progtc/client";\n\nconst client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "your-secret-key" });\nconst session',
        t.url,
      ),
    ),
    "8\n\n",
  );
});
