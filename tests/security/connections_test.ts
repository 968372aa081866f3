/**
 * Connection floods on loopback: connections that send nothing or half their headers, idle
 * keep-alive connections, more connections than the cap, and more than the process has file
 * descriptors for (a server under `ulimit -n 256`). Each ends as the limit says, an execution
 * in progress during the flood finishes, and the server serves afterwards.
 *
 * progtc-test: waits (2.2 s of CPU in 7.9 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { API_KEY, assertOnlyPoolHosts, heldExecution, startServer, waitFor } from "../_helpers.ts";
import { openFds, spawnServer } from "../_process.ts";

const encoder = new TextEncoder();

/** Opens `count` connections to `port`, each sending `bytes` (nothing when empty). */
async function flood(port: number, count: number, bytes = ""): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (bytes) await conn.write(encoder.encode(bytes)).catch(() => {});
    conns.push(conn);
  }
  return conns;
}

/** Reads until the server closes the connection; what it sent. */
async function untilClosed(conn: Deno.TcpConn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch {
    // Reset by the server: closed as well.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  return text;
}

const ADD = {
  code: `import { add } from "tools"; console.log(await add(20, 22));`,
  tools: { add: (a: number, b: number) => a + b },
};

Deno.test("connections that send nothing or half their headers are closed after --header-timeout", async () => {
  await using t = await startServer({ headerTimeoutMs: 500 });
  const port = t.server.addr.port;
  const silent = await flood(port, 25);
  const partial = await flood(port, 25, "POST /execute-code HTTP/1.1\r\nhost: x\r\ncontent-");
  // Meanwhile the server serves.
  deepStrictEqual(await t.client.executeCode(ADD), { type: "success", stdout: "42\n", stderr: "" });
  const answers = await Promise.all([...silent, ...partial].map(untilClosed));
  deepStrictEqual(answers, Array(50).fill(""), "closed without an answer");
  ok(t.server.connections!.timedOut >= 50, JSON.stringify(t.server.connections));
  deepStrictEqual(await t.client.executeCode(ADD), { type: "success", stdout: "42\n", stderr: "" });
});

Deno.test("a keep-alive connection is closed after --idle-timeout with no request, not during one", async () => {
  await using t = await startServer({ idleTimeoutMs: 500 });
  const [conn] = await flood(t.server.addr.port, 1, "GET /ping HTTP/1.1\r\nhost: x\r\n\r\n");
  const answer = await untilClosed(conn!);
  match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  strictEqual(t.server.connections!.timedOut, 1);
  // An event stream that lasts longer than the idle timeout is not cut.
  const result = await t.client.executeCode({
    code: `await new Promise((r) => setTimeout(r, 1200)); console.log("done");`,
    tools: {},
  });
  deepStrictEqual(result, { type: "success", stdout: "done\n", stderr: "" });
});

Deno.test("at --max-connections, new connections replace idle ones and an execution in progress finishes", async () => {
  await using t = await startServer({ maxConnections: 20 });
  const execution = heldExecution(t.client);
  await execution.called;
  const conns = await flood(t.server.addr.port, 200);
  await waitFor("the flood is accepted", () => t.server.connections!.accepted >= 200);
  ok(t.server.connections!.open <= 20, JSON.stringify(t.server.connections));
  ok(t.server.connections!.evicted >= 180, JSON.stringify(t.server.connections));
  execution.release();
  deepStrictEqual(await execution.result, { type: "success", stdout: "released\n", stderr: "" });
  deepStrictEqual(await t.client.executeCode(ADD), { type: "success", stdout: "42\n", stderr: "" });
  for (const conn of conns) conn.close();
  await assertOnlyPoolHosts(t);
});

Deno.test("at --max-connections with every connection active, a new one is answered 503 over_capacity", async () => {
  await using t = await startServer({ maxConnections: 2, bodyTimeoutMs: 1000 });
  const execution = heldExecution(t.client);
  await execution.called;
  // Two active connections: the execution's event stream, and a request that trickles its body.
  const [slow] = await flood(
    t.server.addr.port,
    1,
    `POST /tool-results HTTP/1.1\r\nhost: x\r\nx-progtc-api-key: ${API_KEY}\r\n` +
      "content-type: application/json\r\ncontent-length: 100\r\n\r\n{",
  );
  await waitFor("two active connections", () => t.server.connections!.open === 2);
  const [extra] = await flood(t.server.addr.port, 1);
  const answer = await untilClosed(extra!);
  match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  match(answer, /"code":"over_capacity"/);
  strictEqual(t.server.connections!.refused, 1);
  // The trickle is cut at --body-timeout, which makes room for the tool's result.
  const cut = await untilClosed(slow!);
  match(cut, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*"code":"body_timeout"/);
  execution.release();
  deepStrictEqual(await execution.result, { type: "success", stdout: "released\n", stderr: "" });
});

for (const cap of ["default", "none"] as const) {
  Deno.test(`under ulimit -n 256, 1000 idle connections neither end the server nor an execution (cap: ${cap})`, async () => {
    // With no cap that fits, the process runs out of descriptors: the accept loop backs off.
    const args = cap === "none" ? ["--max-connections", "100000"] : [];
    await using server = await spawnServer(args, { nofile: 256 });
    const execution = heldExecution(server.client);
    await execution.called;
    const conns: Deno.TcpConn[] = [];
    for (let i = 0; i < 1000; i++) {
      conns.push(...await flood(Number(new URL(server.url).port), 1));
      if (i % 100 === 0) ok(openFds(server.pid) <= 256);
    }
    // Still alive, still serving: the held execution finishes, new ones run.
    execution.release();
    deepStrictEqual(await execution.result, { type: "success", stdout: "released\n", stderr: "" });
    for (const conn of conns) conn.close();
    deepStrictEqual(await server.client.executeCode(ADD), {
      type: "success",
      stdout: "42\n",
      stderr: "",
    });
    strictEqual(server.process.output.includes("Terminating"), false, server.process.output);
    if (cap === "none") match(server.process.output, /out of file descriptors/);
  });
}
