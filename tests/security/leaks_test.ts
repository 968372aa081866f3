/**
 * Introspection attempts: a program finds no runtime internals and learns no host path of
 * the runner, from its own module URL, from stack traces or from the working directory.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../../client/mod.ts";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

/** The repository root on this host, e.g. `/work/main/`. */
const REPO_ROOT = new URL("../../", import.meta.url).pathname;
/** Strings that would show the runner's files to a program. */
const RUNNER_TRACES = [
  REPO_ROOT,
  "/work/",
  "worker_main",
  "bootstrap.ts",
  "deno_sandbox",
  "file://",
];

/** Asserts no output of `result` names a runner file or host path. */
function assertNoRunnerPaths(result: ExecuteCodeResult): void {
  for (const trace of RUNNER_TRACES) {
    ok(!result.stdout.includes(trace), `stdout names ${trace}: ${result.stdout}`);
    ok(!result.stderr.includes(trace), `stderr names ${trace}: ${result.stderr}`);
  }
}

Deno.test("Deno[Deno.internal] and other runtime internals are gone", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const D = Deno as any;
console.log(typeof D[D.internal], typeof D.core, typeof (globalThis as any).__bootstrap);`,
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "undefined undefined undefined\n");
  await assertStillServes(server);
});

Deno.test("import.meta names no host path", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(import.meta.url, import.meta.filename, import.meta.dirname, import.meta.main);`,
  );
  strictEqual(result.type, "success", result.stderr);
  // The program is imported from a data: URL of its own source: no file, no host path.
  ok(result.stdout.startsWith("data:application/typescript;"), result.stdout);
  ok(result.stdout.endsWith(" undefined undefined false\n"), result.stdout);
  assertNoRunnerPaths(result);
  await assertStillServes(server);
});

Deno.test("A runtime error's stack trace names only code.ts", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `function inner(): never { throw new Error("boom"); }
function outer() { inner(); }
outer();`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(
    result.stderr,
    "Error: boom\n    at inner (code.ts:1:33)\n    at outer (code.ts:2:20)\n    at code.ts:3:1\n",
  );
  assertNoRunnerPaths(result);
  await assertStillServes(server);
});

Deno.test("A failed tool's uncaught error names no runner file", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { fail } from "tools";
await fail();`,
    {
      tools: {
        fail: () => {
          throw new Error("the tool failed");
        },
      },
    },
  );
  strictEqual(result.type, "runtime_error");
  ok(result.stderr.startsWith("ToolError: the tool failed"), result.stderr);
  assertNoRunnerPaths(result);
  await assertStillServes(server);
});

Deno.test("Stack frames a program collects itself name no host path", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { echo } from "tools";
Error.prepareStackTrace = (_error, frames) => frames.map((f) => f.getFileName()).join(" ");
const files: unknown[] = [new Error("top").stack];
await echo(1);
files.push(new Error("after a tool").stack);
await new Promise((resolve) => setTimeout(() => resolve(files.push(new Error("timer").stack)), 0));
try { await echo(); JSON.parse("{"); } catch (e) { files.push(e.stack); }
console.log(files.join("\\n"));`,
    { tools: { echo: (value: unknown) => value } },
  );
  strictEqual(result.type, "success", result.stderr);
  assertNoRunnerPaths(result);
  await assertStillServes(server);
});

Deno.test("A syntax error names only code.ts", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `const x: number = ;`);
  strictEqual(result.type, "syntax_error");
  ok(result.stderr.startsWith("SyntaxError: Expression expected"), result.stderr);
  ok(result.stderr.includes("code.ts:1:19"), result.stderr);
  ok(!result.stderr.includes("blob:"), result.stderr);
  assertNoRunnerPaths(result);
  await assertStillServes(server);
});

Deno.test("Deno.cwd() and process.cwd() do not reveal the server's working directory", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const seen: string[] = [];
for (const cwd of [() => Deno.cwd(), () => process.cwd()]) {
  try { seen.push(cwd()); } catch (e) { seen.push((e as Error).name); }
}
console.log(seen.join(" "));`,
  );
  strictEqual(result.type, "success", result.stderr);
  ok(!result.stdout.includes(REPO_ROOT.replace(/\/$/, "")), `leaked: ${result.stdout}`);
  if (Deno.cwd() !== "/") ok(!result.stdout.includes(Deno.cwd()), `leaked: ${result.stdout}`);
  await assertStillServes(server);
});
