/**
 * Nested worker attempts: a worker started by a program never has more permissions than the
 * program itself (none).
 *
 * The global `Worker` of the program's realm refuses at once with NotCapable (a nested isolate
 * cannot start under the data rlimit anyway). `node:worker_threads` reaches Deno's worker
 * machinery directly: its worker inherits no permissions, and starting it either fails with
 * NotCapable, or kills the sandbox under its data rlimit (reported as the memory limit).
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../../client/mod.ts";
import { assertNotLeaked, assertStillServes, attempt, marker, startServer } from "./_attempt.ts";

const MEMORY_LIMIT = "RangeError: the program exceeded its memory limit and was stopped\n";
const REFUSED = "NotCapable: Starting a worker is not allowed in the progtc sandbox\n";

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

/** Asserts the global Worker refused to start, before anything ran. */
function assertRefused(result: ExecuteCodeResult, secret?: string): void {
  if (secret) assertNotLeaked(result, secret);
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "");
  ok(result.stderr.startsWith(REFUSED), result.stderr);
}

const blobOf = (source: string) =>
  `URL.createObjectURL(new Blob([${JSON.stringify(source)}], { type: "text/javascript" }))`;

for (
  const [what, permissions] of [
    ["{ read: true }", `{ read: true }`],
    ["{ run: true, net: true, env: true }", `{ run: true, net: true, env: true }`],
    ["'inherit'", `"inherit"`],
  ]
) {
  Deno.test(`new Worker() with permissions ${what} is refused`, async () => {
    await using file = await secretFile();
    await using server = await startServer();
    const { result } = await attempt(
      server,
      nestedWorker(
        blobOf(readerSource(file.path)),
        `{ type: "module", deno: { permissions: ${permissions} } }`,
      ),
    );
    assertRefused(result, file.secret);
    await assertStillServes(server);
  });
}

Deno.test("A data: URL worker or a host file URL worker is refused", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const url = `"data:text/javascript,${encodeURIComponent(readerSource(file.path))}"`;
  assertRefused(
    (await attempt(server, nestedWorker(url, `{ type: "module" }`))).result,
    file.secret,
  );
  const fileUrl = JSON.stringify(`file://${file.path}`);
  assertRefused(
    (await attempt(server, nestedWorker(fileUrl, `{ type: "module" }`))).result,
    file.secret,
  );
  await assertStillServes(server);
});

Deno.test("A node:worker_threads worker cannot read a host file", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const source = `const { parentPort } = require("node:worker_threads");
parentPort.postMessage(require("node:fs").readFileSync(${JSON.stringify(file.path)}, "utf8"));`;
  const { result } = await attempt(
    server,
    `import { Worker } from "node:worker_threads";
const worker = new Worker(${JSON.stringify(source)}, { eval: true });
const message = await new Promise((resolve) => {
  worker.on("message", (m) => resolve("MESSAGE " + m));
  worker.on("error", (e) => resolve("ERROR " + e.name + ": " + e.message));
});
console.log(message);
await worker.terminate();`,
  );
  assertNotLeaked(result, file.secret);
  ok(!result.stdout.includes("MESSAGE"), `the nested worker posted: ${result.stdout}`);
  if (result.type === "runtime_error") {
    ok(result.stderr === MEMORY_LIMIT || result.stderr.includes("NotCapable"), result.stderr);
  } else {
    strictEqual(result.type, "success");
    // The nested worker's permission error reaches its parent as a plain Error.
    ok(
      result.stdout.startsWith("ERROR ") &&
        /NotCapable|Requires read access/.test(result.stdout),
      result.stdout,
    );
  }
  await assertStillServes(server);
});
