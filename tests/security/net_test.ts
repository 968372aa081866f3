/**
 * Network attempts: a program can neither reach a host service nor listen. Each attempt
 * targets a real server the test starts on port 0 and checks that nothing reached it.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import {
  assertNotCapable,
  assertNotLeaked,
  assertStillServes,
  attempt,
  marker,
  startServer,
} from "./_attempt.ts";
import { delay } from "../_helpers.ts";

/** An HTTP server on 127.0.0.1 that answers a secret and counts requests. */
function httpTarget(): AsyncDisposable & {
  origin: string;
  host: string;
  secret: string;
  hits(): number;
} {
  const secret = marker();
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    return new Response(secret);
  });
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    origin: `http://${host}`,
    host,
    secret,
    hits: () => hits,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A raw TCP listener on 127.0.0.1 that counts accepted connections. */
function tcpTarget(): AsyncDisposable & { port: number; accepted(): number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: listener.addr.port,
    accepted: () => accepted,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await loop;
    },
  };
}

Deno.test("fetch() to a local HTTP server is denied net access and sends no request", async () => {
  await using target = httpTarget();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log(await (await fetch("${target.origin}/steal")).text());`,
  );
  assertNotCapable(result, "net", target.host);
  assertNotLeaked(result, target.secret);
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("fetch() to localhost by name is denied net access and sends no request", async () => {
  await using target = httpTarget();
  await using server = await startServer();
  const port = target.host.split(":")[1];
  const { result } = await attempt(
    server,
    `console.log(await (await fetch("http://localhost:${port}/steal")).text());`,
  );
  assertNotCapable(result, "net", `localhost:${port}`);
  assertNotLeaked(result, target.secret);
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("Deno.connect() to a local TCP port is denied net access and opens no connection", async () => {
  await using target = tcpTarget();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const conn = await Deno.connect({ hostname: "127.0.0.1", port: ${target.port} });
await conn.write(new TextEncoder().encode("hello"));`,
  );
  assertNotCapable(result, "net", `127.0.0.1:${target.port}`);
  await delay(50);
  strictEqual(target.accepted(), 0);
  await assertStillServes(server);
});

Deno.test("Deno.listen() is denied net access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `const listener = Deno.listen({ port: 0 });`);
  assertNotCapable(result, "net", "0.0.0.0:0");
  await assertStillServes(server);
});

Deno.test("node:net createConnection() is denied net access and opens no connection", async () => {
  await using target = tcpTarget();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import net from "node:net";
const socket = net.createConnection({ host: "127.0.0.1", port: ${target.port} });
await new Promise((resolve, reject) => {
  socket.on("connect", () => resolve(console.log("connected")));
  socket.on("error", reject);
});`,
  );
  assertNotCapable(result, "net", `127.0.0.1:${target.port}`, false);
  strictEqual(result.stdout, "");
  strictEqual(target.accepted(), 0);
  await assertStillServes(server);
});

Deno.test("new WebSocket() to a local server is denied net access and sends no request", async () => {
  await using target = httpTarget();
  await using server = await startServer();
  const { result } = await attempt(server, `new WebSocket("ws://${target.host}/steal");`);
  assertNotCapable(result, "net", target.host);
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("new EventSource() to a local server fails and sends no request", async () => {
  await using target = httpTarget();
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `const source = new EventSource("${target.origin}/steal");
const event = await new Promise((resolve) => {
  source.onopen = () => resolve("open");
  source.onerror = () => resolve("error");
});
source.close();
console.log(event);`,
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "error\n");
  strictEqual(target.hits(), 0);
  await assertStillServes(server);
});

Deno.test("Deno.resolveDns() is denied net access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `await Deno.resolveDns("example.com", "A");`);
  ok(
    result.stderr.startsWith("NotCapable: Requires net access to "),
    `expected a net denial, got: ${result.stderr}`,
  );
  strictEqual(result.type, "runtime_error");
  await assertStillServes(server);
});
