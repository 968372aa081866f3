/**
 * File system attempts: a program can neither read nor write a file of the host.
 *
 * @module
 */
import { ok, rejects } from "node:assert/strict";
import {
  assertNotCapable,
  assertNotLeaked,
  assertStillServes,
  attempt,
  marker,
  startServer,
} from "./_attempt.ts";

/** A host file holding a fresh secret; removed on dispose. */
async function secretFile(): Promise<AsyncDisposable & { path: string; secret: string }> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-security-" });
  const path = `${dir}/secret.txt`;
  const secret = marker();
  await Deno.writeTextFile(path, secret);
  return {
    path,
    secret,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A fresh empty host directory; removed on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "progtc-security-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("Deno.readTextFile('/etc/passwd') is denied read access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(await Deno.readTextFile("/etc/passwd"));`,
  );
  assertNotCapable(result, "read", "/etc/passwd");
  assertNotLeaked(result, "root:x:0:0");
  await assertStillServes(server);
});

Deno.test("Deno.readTextFile() of a host file holding a secret is denied read access", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(await Deno.readTextFile(${JSON.stringify(file.path)}));`,
  );
  assertNotCapable(result, "read", file.path);
  assertNotLeaked(result, file.secret);
  await assertStillServes(server);
});

Deno.test("node:fs readFileSync() is denied read access", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
console.log(fs.readFileSync(${JSON.stringify(file.path)}, "utf8"));`,
  );
  assertNotCapable(result, "read", file.path);
  assertNotLeaked(result, file.secret);
  await assertStillServes(server);
});

Deno.test("fetch('file:///etc/passwd') is denied read access", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(await (await fetch("file:///etc/passwd")).text());
console.log(await (await fetch(${JSON.stringify(`file://${file.path}`)})).text());`,
  );
  assertNotCapable(result, "read", "/etc/passwd");
  assertNotLeaked(result, "root:x:0:0");
  assertNotLeaked(result, file.secret);
  await assertStillServes(server);
});

Deno.test("Deno.readTextFileSync() in a JavaScript program is denied read access", async () => {
  await using file = await secretFile();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(Deno.readTextFileSync(${JSON.stringify(file.path)}));`,
    { language: "javascript" },
  );
  assertNotCapable(result, "read", file.path);
  ok(result.stderr.includes("code.js:1:"), result.stderr);
  assertNotLeaked(result, file.secret);
  await assertStillServes(server);
});

Deno.test("Deno.writeTextFile() to a host directory is denied write access and creates nothing", async () => {
  await using dir = await tempDir();
  const target = `${dir.path}/pwned.txt`;
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `await Deno.writeTextFile(${JSON.stringify(target)}, "pwned");`,
  );
  assertNotCapable(result, "write", target);
  await rejects(Deno.stat(target), Deno.errors.NotFound);
  await assertStillServes(server);
});

Deno.test("node:fs writeFileSync() and mkdirSync() are denied write access and create nothing", async () => {
  await using dir = await tempDir();
  const target = `${dir.path}/pwned.txt`;
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import fs from "node:fs";
try { fs.mkdirSync(${JSON.stringify(`${dir.path}/sub`)}); } catch (e) { console.log(String(e)); }
fs.writeFileSync(${JSON.stringify(target)}, "pwned");`,
  );
  assertNotCapable(result, "write", target);
  ok(
    result.stdout.startsWith(`NotCapable: Requires write access to "${dir.path}/sub"`),
    result.stdout,
  );
  ok([...Deno.readDirSync(dir.path)].length === 0, "the program created a host file");
  await assertStillServes(server);
});

Deno.test("Deno.chdir() and Deno.readDir() of the working directory are denied read access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `try { Deno.chdir("/"); } catch (e) { console.log(String(e)); }
for await (const entry of Deno.readDir(".")) console.log(entry.name);`,
  );
  assertNotCapable(result, "read", ".");
  ok(result.stdout.startsWith(`NotCapable: Requires read access to "/"`), result.stdout);
  await assertStillServes(server);
});
