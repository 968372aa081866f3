/**
 * The npm package as users install it: `deno task build:npm`, `npm pack`, the tarball installed
 * into a fresh project with `npm install`, and `tests/npm/main.mjs` run there under Node 20 (the
 * machine's), the current Node LTS and Bun (both from npm) against a real server: the README's
 * first example (typed tools, a validation error, a return value) and the step loop.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { buildNpm } from "../npm/build.ts";
import { API_KEY, startServer } from "./_helpers.ts";
import { runtime } from "./interop/runtimes.ts";

const decoder = new TextDecoder();

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (output.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${output.code}):\n${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

/**
 * Builds and packs the package once (in a directory of its own: `dist/npm/` is the README's,
 * tests/install_test.ts), and installs it into a fresh project.
 */
async function installed(): Promise<string> {
  dist = await buildNpm(await Deno.makeTempDir({ prefix: "progtc-npm-build-" }));
  const project = await Deno.makeTempDir({ prefix: "progtc-npm-" });
  const tarball = (await run("npm", ["pack", "--pack-destination", project], dist)).trim().split(
    "\n",
  ).at(-1)!;
  await Deno.writeTextFile(`${project}/package.json`, '{ "name": "app", "type": "module" }\n');
  await run("npm", ["install", "--no-audit", "--no-fund", `./${tarball}`], project);
  await Deno.copyFile(new URL("./npm/main.mjs", import.meta.url), `${project}/main.mjs`);
  return project;
}

const project = installed();
let dist = "";

for (const target of ["node 20", "node LTS", "bun"] as const) {
  Deno.test(`the npm tarball runs the README example and the step loop under ${target}`, async () => {
    const dir = await project;
    const binary = target === "node 20"
      ? "node"
      : await runtime(target === "bun" ? "bun" : "node-lts");
    await using t = await startServer();
    const output = await run(binary, ["main.mjs", t.url, API_KEY], dir);
    const report = JSON.parse(output.trim().split("\n").at(-1)!);
    if (target === "node 20") ok(report.runtime.startsWith("node v20."), report.runtime);
    if (target === "node LTS") {
      ok(Number(report.runtime.match(/^node v(\d+)/)[1]) >= 24, report.runtime);
    }
    if (target === "bun") ok(report.runtime.startsWith("bun "), report.runtime);
    deepStrictEqual(report.readme, {
      type: "success",
      stdout: "sum 5\nToolError Invalid input for get_weather(): city: required\n",
      stderr: "",
      value: "Paris: 21 °C",
    });
    deepStrictEqual(report.step, {
      steps: 2,
      result: { type: "success", stdout: "3 7\n", stderr: "" },
    });
    strictEqual(report.described, true);
    deepStrictEqual(report.ai, { type: "success", stdout: "", stderr: "", value: 42 });
    deepStrictEqual(report.mcp, ["ping"]);
    deepStrictEqual(report.codemode, { result: 3 });
  });
}

Deno.test("the npm package has no dependencies and only the client's files", async () => {
  const dir = await project;
  const manifest = JSON.parse(
    await Deno.readTextFile(`${dir}/node_modules/@progtc/client/package.json`),
  );
  strictEqual(manifest.dependencies, undefined);
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/node_modules/@progtc/client/esm`)) {
    files.push(entry.name);
  }
  deepStrictEqual(files.sort(), ["client", "protocol.d.ts", "protocol.js"]);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(dist, { recursive: true });
});
