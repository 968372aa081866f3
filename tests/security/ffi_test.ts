/**
 * Foreign function attempts: a program can load no native library.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { assertNotCapable, assertStillServes, attempt, startServer } from "./_attempt.ts";

Deno.test("Deno.dlopen() of libc is denied ffi access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const lib = Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } });
console.log(lib.symbols.getpid());`,
  );
  assertNotCapable(result, "ffi", "libc.so.6");
  strictEqual(result.stdout, "");
  await assertStillServes(server);
});

Deno.test("process.dlopen() of a native module is denied ffi access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `process.dlopen({ exports: {} }, "/lib/x86_64-linux-gnu/libc.so.6");`,
  );
  assertNotCapable(result, "ffi", "/lib/x86_64-linux-gnu/libc.so.6");
  await assertStillServes(server);
});
