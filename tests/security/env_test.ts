/**
 * Environment attempts: a secret in the server's environment never reaches a program.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import {
  assertNotCapable,
  assertNotLeaked,
  assertStillServes,
  attempt,
  marker,
  startServer,
} from "./_attempt.ts";

const NAME = "PROGTC_SECURITY_TEST_API_KEY";

/** Sets a fresh secret in this process's environment (which the server runs in). */
function secretEnv(): Disposable & { value: string } {
  const value = marker();
  Deno.env.set(NAME, value);
  return { value, [Symbol.dispose]: () => Deno.env.delete(NAME) };
}

Deno.test("Deno.env.get() of a server secret is denied env access", async () => {
  using secret = secretEnv();
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(Deno.env.get("${NAME}"));`);
  assertNotCapable(result, "env", NAME);
  assertNotLeaked(result, secret.value);
  await assertStillServes(server);
});

Deno.test("Deno.env.toObject() is denied env access", async () => {
  using secret = secretEnv();
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(JSON.stringify(Deno.env.toObject()));`);
  assertNotCapable(result, "env");
  assertNotLeaked(result, secret.value);
  await assertStillServes(server);
});

Deno.test("process.env of a server secret is denied env access", async () => {
  using secret = secretEnv();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import process from "node:process";
console.log(process.env.${NAME});`,
  );
  assertNotCapable(result, "env", NAME);
  assertNotLeaked(result, secret.value);
  await assertStillServes(server);
});

Deno.test("Enumerating the global process.env is denied env access", async () => {
  using secret = secretEnv();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(JSON.stringify({ ...process.env }), Object.keys(process.env).length);`,
  );
  assertNotCapable(result, "env");
  assertNotLeaked(result, secret.value);
  assertNotLeaked(result, NAME);
  await assertStillServes(server);
});

Deno.test("Deno.env.has() of a server secret is denied env access", async () => {
  using secret = secretEnv();
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(Deno.env.has("${NAME}"));`);
  assertNotCapable(result, "env", NAME);
  strictEqual(result.stdout, "");
  assertNotLeaked(result, secret.value);
  await assertStillServes(server);
});
