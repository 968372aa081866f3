/**
 * What a program leaves on the disk: nothing. A sandbox host runs with no cache directory Deno
 * could write to, so the modules a program makes Deno transpile (with their source maps) and
 * the code it makes V8 cache stay in memory and die with the process.
 *
 * Each attempt embeds a fresh marker in everything it generates, then searches the places a
 * Deno process writes (the server's Deno cache, this project's cache, the temp directory, and
 * /dev/shm) for a file that holds it.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { assertStillServes, attempt, marker, startServer } from "./_attempt.ts";

/** The server's Deno cache directory (where sandboxes used to write). */
async function denoDir(): Promise<string> {
  const { stdout } = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] })
    .output();
  return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
}

/** Files under `dirs` whose bytes contain `text` (grep; the npm package cache is skipped). */
async function filesHolding(text: string, dirs: string[]): Promise<string[]> {
  const { stdout } = await new Deno.Command("grep", {
    args: ["-rlF", "--exclude-dir=npm", "--exclude-dir=node_modules", text, ...dirs],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean);
}

const places = async () => [
  await denoDir(),
  new URL("../../.cache", import.meta.url).pathname,
  Deno.env.get("TMPDIR") ?? "/tmp",
  "/dev/shm",
];

Deno.test("a TypeScript program that makes Deno transpile modules it generates writes nothing to disk", async () => {
  await using server = await startServer();
  const secret = marker("progtc-disk");
  // 200 generated modules, each a chain of imports: each one is transpiled (its inline source
  // map holds its source) and analysed; before, each left a file in the Deno cache.
  const { result } = await attempt(
    server,
    `const secret: string = ${JSON.stringify(secret)};
     const encode = (s: string) => new TextEncoder().encode(s).toBase64();
     let total = 0;
     for (let i = 0; i < 200; i++) {
       const leaf = "data:application/typescript;base64," +
         encode("export const v: string = " + JSON.stringify(secret + "-leaf-" + i) + ";");
       const mid = "data:application/typescript;base64," +
         encode("import { v } from " + JSON.stringify(leaf) + "; export const w: number = v.length;");
       total += (await import(mid)).w;
     }
     console.log(total > 0, secret.length);`,
  );
  strictEqual(result.type, "success", result.stderr);
  deepStrictEqual(await filesHolding(secret, await places()), []);
  await assertStillServes(server);
});

Deno.test("a JavaScript program that grows the V8 code cache writes nothing to disk", async () => {
  await using server = await startServer();
  const secret = marker("progtc-disk");
  // 50 generated modules, each named by a plain (not base64) data: URL that holds the marker,
  // with 200 functions each: V8 caches their code under that name.
  const { result } = await attempt(
    server,
    `for (let i = 0; i < 50; i++) {
       const body = Array.from({ length: 200 }, (_, j) =>
         "export function f" + j + "(x) { return x * " + j + " + " + i + "; }").join("\\n");
       const url = "data:text/javascript," + encodeURIComponent(body + "\\n// ${secret}-" + i);
       (await import(url)).f1(2);
     }
     console.log("done");`,
    { language: "javascript" },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "done\n");
  deepStrictEqual(await filesHolding(secret, await places()), []);
  await assertStillServes(server);
});

Deno.test("python: a program that makes its worker import generated modules writes nothing to disk", async () => {
  await using server = await startServer({ pythonPoolSize: 1 });
  const secret = marker("progtc-disk");
  const { result } = await attempt(
    server,
    `import js
for i in range(20):
    source = "export const v: string = " + js.JSON.stringify("${secret}-" + str(i)) + ";"
    url = "data:application/typescript," + js.encodeURIComponent(source)
    module = await js.eval("(url) => import(url)")(url)
print("done")`,
    { language: "python" },
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "done\n");
  deepStrictEqual(await filesHolding(secret, await places()), []);
  await assertStillServes(server);
});
