/**
 * Module loading attempts: a program can import no remote, npm, jsr or host-file module,
 * and fetches nothing while trying. `node:` built-ins stay available (they are gated).
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import { assertNotLeaked, assertStillServes, attempt, marker, startServer } from "./_attempt.ts";

/** An HTTP server on 127.0.0.1 that serves a module and counts requests. */
function moduleHost(): AsyncDisposable & { origin: string; host: string; hits(): number } {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    return new Response(`console.log("remote code ran"); export default 1;`, {
      headers: { "content-type": "application/javascript" },
    });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    origin: `http://${host}`,
    host,
    hits: () => hits,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("A static import from https://deno.land is denied import access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import { assert } from "https://deno.land/std@0.224.0/assert/mod.ts";
assert(true);
console.log("imported");`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "");
  ok(
    result.stderr.startsWith(`TypeError: Requires import access to "deno.land:443"`),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A dynamic import of an http URL is denied and sends no request", async () => {
  await using target = moduleHost();
  await using server = await startServer();
  const { result } = await attempt(server, `await import("${target.origin}/evil.js");`);
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith(`TypeError: Requires import access to "${target.host}"`),
    result.stderr,
  );
  assertNotLeaked(result, "remote code ran");
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("A static import of an http URL is denied and sends no request", async () => {
  await using target = moduleHost();
  await using server = await startServer();
  const { result } = await attempt(server, `import x from "${target.origin}/evil.js";`);
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith(`TypeError: Requires import access to "${target.host}"`),
    result.stderr,
  );
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("A static import of npm:lodash is refused", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import _ from "npm:lodash";
console.log(_.VERSION);`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "");
  ok(
    result.stderr.startsWith("TypeError: npm: packages cannot be imported by programs here"),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A dynamic import of npm:lodash is refused", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `const _ = await import("npm:lodash");`);
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith("TypeError: npm: packages cannot be imported by programs here"),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("An npm package the server itself has cached (npm:zod) is refused", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `const { z } = await import("npm:zod");`);
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith("TypeError: npm: packages cannot be imported by programs here"),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A dynamic import of jsr:@std/assert is denied import access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `await import("jsr:@std/assert");`);
  strictEqual(result.type, "runtime_error");
  ok(result.stderr.includes(`Requires import access to "jsr.io:443"`), result.stderr);
  await assertStillServes(server);
});

Deno.test("Importing the server's own source files is denied read access", async () => {
  await using server = await startServer();
  const app = new URL("../../server/app.ts", import.meta.url).href;
  const { result } = await attempt(server, `const app = await import("${app}");`);
  strictEqual(result.type, "runtime_error");
  ok(
    result.stderr.startsWith(
      `TypeError: Requires read access to "${new URL(app).pathname}"`,
    ),
    result.stderr,
  );
  await assertStillServes(server);
});

Deno.test("A data: URL module runs with no permissions", async () => {
  await using server = await startServer();
  const secret = marker();
  const source = `export const text = await Deno.readTextFile("/etc/passwd");`;
  const { result } = await attempt(
    server,
    `const m = await import("data:text/javascript,${encodeURIComponent(source)}");
console.log("${secret}", m.text);`,
  );
  strictEqual(result.type, "runtime_error");
  ok(result.stderr.startsWith(`NotCapable: Requires read access to "/etc/passwd"`), result.stderr);
  assertNotLeaked(result, "root:x:0:0");
  assertNotLeaked(result, secret);
  await assertStillServes(server);
});
