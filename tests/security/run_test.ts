/**
 * Subprocess and signal attempts: a program can start no process and signal none. Each
 * attempt tries to create a marker file through a shell and checks it does not exist.
 *
 * @module
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import { assertNotCapable, assertStillServes, attempt, startServer } from "./_attempt.ts";

/** A path in a fresh host directory that a successful attempt would create. */
async function markerPath(): Promise<AsyncDisposable & { path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-security-" });
  return {
    path: `${dir}/ran.txt`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("Deno.Command('/bin/sh') is denied run access and runs nothing", async () => {
  await using target = await markerPath();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `await new Deno.Command("/bin/sh", { args: ["-c", "touch ${target.path}"] }).output();`,
  );
  assertNotCapable(result, "run", "/bin/sh");
  await rejects(Deno.stat(target.path), Deno.errors.NotFound);
  await assertStillServes(server);
});

Deno.test("Deno.Command('sh').spawn() by bare name runs nothing", async () => {
  await using target = await markerPath();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const child = new Deno.Command("sh", { args: ["-c", "touch ${target.path}"] }).spawn();
await child.status;`,
  );
  strictEqual(result.type, "runtime_error");
  // The sandbox's environment is cleared, so without PATH the name lookup fails before the
  // permission check; with a PATH the permission check refuses it.
  ok(
    /^(NotCapable: Requires run access to "sh"|NotFound: Failed to spawn 'sh')/.test(
      result.stderr,
    ),
    result.stderr,
  );
  await rejects(Deno.stat(target.path), Deno.errors.NotFound);
  await assertStillServes(server);
});

Deno.test("node:child_process execFileSync() and spawn() run nothing", async () => {
  await using target = await markerPath();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import cp from "node:child_process";
try {
  cp.execFileSync("/bin/sh", ["-c", "touch ${target.path}"], { env: {} });
} catch (e) {
  console.log(String(e).split("\\n")[0]);
}
const child = cp.spawn("/bin/sh", ["-c", "touch ${target.path}"], { env: {} });
await new Promise((resolve, reject) => {
  child.on("exit", resolve);
  child.on("error", reject);
});`,
  );
  strictEqual(result.type, "runtime_error");
  ok(/^NotCapable: Requires (run|env) access/.test(result.stdout), result.stdout);
  ok(/^NotCapable: Requires (run|env) access/.test(result.stderr), result.stderr);
  await rejects(Deno.stat(target.path), Deno.errors.NotFound);
  await assertStillServes(server);
});

Deno.test("Deno.kill() of the server process is denied run access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `Deno.kill(Deno.ppid, "SIGKILL");`);
  assertNotCapable(result, "run");
  await assertStillServes(server);
});

Deno.test("process.kill() of the server process is denied run access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `process.kill(process.ppid, "SIGTERM");`);
  assertNotCapable(result, "run");
  await assertStillServes(server);
});
