import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { API_KEY, startServer } from "./_helpers.ts";

const NODE_PROGRAM = `
import { ProgtcClient } from "./client.mjs";
const [url, key] = process.argv.slice(2);
const client = new ProgtcClient({ baseUrl: url, apiKey: key });
await client.waitForServer();
const result = await client.executeCode({
  code: 'import { add, fail } from "tools";\\n' +
    'const [a, b] = await Promise.all([add(1, 2), add(3, 4)]);\\n' +
    'try { await fail(); } catch (e) { console.log(e.name, e.message); }\\n' +
    'console.log(a + b);',
  tools: {
    add: async (x, y) => x + y,
    fail: () => { throw new Error("from node"); },
  },
});
console.log(JSON.stringify({ node: process.version, result }));
`;

Deno.test("ProgtcClient runs under Node ≥ 20 with only fetch and web streams", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "-o",
        `${dir}/client.mjs`,
        "client/mod.ts",
      ],
      cwd: new URL("..", import.meta.url),
    }).output();
    strictEqual(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
    await Deno.writeTextFile(`${dir}/main.mjs`, NODE_PROGRAM);
    await using t = await startServer();
    const node = await new Deno.Command("node", { args: [`${dir}/main.mjs`, t.url, API_KEY] })
      .output();
    strictEqual(node.code, 0, new TextDecoder().decode(node.stderr));
    const { node: version, result } = JSON.parse(new TextDecoder().decode(node.stdout));
    ok(Number(version.slice(1).split(".")[0]) >= 20, `Node ${version} is older than 20`);
    deepStrictEqual(result, { type: "success", stdout: "ToolError from node\n10\n", stderr: "" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
