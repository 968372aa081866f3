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

// A signal to its own process needs no permission in Deno, and would end every program of the
// host: signals are refused outright, whoever they are for.
for (const [how, call] of [["Deno.kill()", "Deno.kill"], ["process.kill()", "process.kill"]]) {
  Deno.test(`${how} of the server process, of its own host or its group is refused`, async () => {
    await using server = await startServer();
    const code = `import process from "node:process";
const outcomes = [];
for (const pid of [${Deno.pid}, Deno.pid, 0, -1]) {
  try { ${call}(pid, "SIGKILL"); outcomes.push("sent"); }
  catch (error) { outcomes.push(String(error)); }
}
console.log(JSON.stringify(outcomes));`;
    const { result } = await attempt(server, code);
    strictEqual(result.type, "success", result.stderr);
    const refused = `NotCapable: ${how} is not allowed in the progtc sandbox`;
    strictEqual(result.stdout, JSON.stringify([refused, refused, refused, refused]) + "\n");
    await assertStillServes(server);
  });
}
