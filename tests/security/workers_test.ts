/**
 * Nested worker attempts: a worker started by a program never has more permissions than the
 * program itself (none).
 *
 * Two outcomes are correct for a nested worker that tries to read: the worker starts and its
 * read is denied (`NotCapable`), or the sandbox cannot start a third isolate under its data
 * rlimit and dies (reported as the memory limit). Deno 2.9.6 under the default 1536 MiB
 * limit does the second ("Failed to reserve virtual memory for CodeRange").
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../../client/mod.ts";
import { assertNotLeaked, assertStillServes, attempt, marker, startServer } from "./_attempt.ts";

const MEMORY_LIMIT = "RangeError: the program exceeded its memory limit and was stopped\n";

/** A host file holding a fresh secret; removed on dispose. */
async function secretFile(): Promise<AsyncDisposable & { path: string; secret: string }> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-security-" });
  const path = `${dir}/secret.txt`;
  const secret = marker();
  await Deno.writeTextFile(path, secret);
  return { path, secret, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** A program that starts `url` as a worker with `options` and prints what it reports. */
function nestedWorker(url: string, options: string): string {
  return `const worker = new Worker(${url}, ${options});
const message = await new Promise((resolve) => {
  worker.onmessage = (event) => resolve("MESSAGE " + event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    resolve("ERROR " + event.message);
  };
});
worker.terminate();
console.log(message);`;
}

/** A worker source that reads `path` and posts its text. */
function readerSource(path: string): string {
  return `postMessage(Deno.readTextFileSync(${JSON.stringify(path)}));`;
}

/** Asserts the nested worker's read was denied, or the sandbox died starting it. */
function assertReadContained(result: ExecuteCodeResult, path: string, secret: string): void {
  assertNotLeaked(result, secret);
  ok(!result.stdout.includes("MESSAGE"), `the nested worker posted: ${result.stdout}`);
  if (result.type === "success") {
    ok(
      result.stdout.startsWith("ERROR ") &&
        result.stdout.includes(`Requires read access to "${path}"`),
      result.stdout,
    );
  } else {
    strictEqual(result.type, "runtime_error");
    strictEqual(result.stderr, MEMORY_LIMIT);
  }
}

Deno.test("new Worker() with permissions { read: true } is denied escalation", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const blob = `URL.createObjectURL(new Blob([${
    JSON.stringify(readerSource(file.path))
  }], { type: "text/javascript" }))`;
  const { result } = await attempt(
    server,
    nestedWorker(blob, `{ type: "module", deno: { permissions: { read: true } } }`),
  );
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith("NotCapable: Can't escalate parent thread permissions"),
    result.stderr,
  );
  assertNotLeaked(result, file.secret);
  await assertStillServes(server);
});

Deno.test("new Worker() with permissions { run: true, net: true, env: true } is denied escalation", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    nestedWorker(
      `"data:text/javascript,postMessage(1)"`,
      `{ type: "module", deno: { permissions: { run: true, net: true, env: true } } }`,
    ),
  );
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith("NotCapable: Can't escalate parent thread permissions"),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("new Worker() with permissions 'inherit' cannot read a host file", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const blob = `URL.createObjectURL(new Blob([${
    JSON.stringify(readerSource(file.path))
  }], { type: "text/javascript" }))`;
  const { result } = await attempt(
    server,
    nestedWorker(blob, `{ type: "module", deno: { permissions: "inherit" } }`),
  );
  assertReadContained(result, file.path, file.secret);
  await assertStillServes(server);
});

Deno.test("A data: URL worker with default permissions cannot read a host file", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const url = `"data:text/javascript,${encodeURIComponent(readerSource(file.path))}"`;
  const { result } = await attempt(server, nestedWorker(url, `{ type: "module" }`));
  assertReadContained(result, file.path, file.secret);
  await assertStillServes(server);
});

Deno.test("A worker loaded from a host file URL cannot read it", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    nestedWorker(JSON.stringify(`file://${file.path}`), `{ type: "module" }`),
  );
  assertReadContained(result, file.path, file.secret);
  await assertStillServes(server);
});
