/**
 * Sessions at their limits, by attempt: a program past its timeout or its memory cap ends its
 * session and says so; an idle session expires; memory pressure ends idle sessions before any
 * running program; `--max-sessions` bounds how many are open; a host that dies takes the idle
 * sessions on it. Each time the next program is refused with a code that says why (never a
 * fresh realm), the session's worker is gone, and the server serves on.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { ProgtcHttpError, type ProgtcSession } from "../../client/mod.ts";
import {
  alive,
  API_KEY,
  assertOnlyPoolHosts,
  assertStillServes,
  post,
  startServer,
  type TestServer,
  waitFor,
} from "../_helpers.ts";

/** The session's next program is refused with `code` (and HTTP `status`). */
async function refused(session: ProgtcSession, status: number, code: string): Promise<void> {
  const error = await session.executeCode({ code: "console.log(1)", tools: {} }).then(
    () => undefined,
    (error) => error,
  );
  ok(error instanceof ProgtcHttpError, String(error));
  deepStrictEqual([error.status, error.code], [status, code], error.message);
}

/** What admission charges now: back to `before` once the sessions' workers are gone. */
const charged = (t: TestServer) => t.server.app.memory.charged;

Deno.test("a program over its memory cap ends its session", async () => {
  await using t = await startServer({ sandboxMemoryMb: 256 });
  const session = t.client.session();
  strictEqual((await session.executeCode({ code: "const x = 1;", tools: {} })).type, "success");
  const big = await session.executeCode({
    code: `const keep = [];
for (let i = 0; i < 64; i++) {
  keep.push(new Uint8Array(16 << 20).fill(1));
  await new Promise((r) => setTimeout(r, 20));
}`,
    tools: {},
  });
  strictEqual(big.type, "runtime_error");
  match(big.stderr, /exceeded its memory limit of 256 MiB/);
  strictEqual(big.session_ended, true);
  await refused(session, 410, "session_ended");
  await assertStillServes(t);
});

Deno.test("an idle session expires: its next program is refused, its worker is gone", async () => {
  await using t = await startServer({ sessionIdleTimeoutMs: 600 });
  const before = charged(t);
  const session = t.client.session({ language: "typescript" });
  strictEqual((await session.executeCode({ code: "const x = 1;", tools: {} })).type, "success");
  strictEqual(charged(t) > before, true, "an idle session holds its memory");
  await waitFor("the session expires", () => t.logs.some((l) => /session \S+ expired/.test(l)));
  await refused(session, 410, "session_expired");
  await waitFor("its memory is given back", () => charged(t) === before);
  await assertOnlyPoolHosts(t);
});

Deno.test("memory pressure ends idle sessions before the program that needs the memory", async () => {
  await using t = await startServer({ poolSize: 1, memoryBudgetMb: 700, sandboxMemoryMb: 2000 });
  const session = t.client.session();
  const held = await session.executeCode({
    code: "const keep = new Uint8Array(300 << 20).fill(1); console.log(keep.length >> 20);",
    tools: {},
  });
  deepStrictEqual([held.type, held.stdout], ["success", "300\n"]);
  // Grows to 480 MiB, slower than the server measures: with the idle session's 300 MiB it is
  // over the budget, and the idle session goes first.
  const grown = await t.client.executeCode({
    code: `const keep = [];
for (let i = 0; i < 60; i++) {
  keep.push(new Uint8Array(8 << 20).fill(1));
  await new Promise((r) => setTimeout(r, 100));
}
console.log(keep.length * 8);`,
    tools: {},
  });
  deepStrictEqual([grown.type, grown.stdout], ["success", "480\n"], t.logs.join("\n"));
  await refused(session, 410, "session_evicted");
  await assertStillServes(t);
});

Deno.test("a server with --max-sessions 0 keeps none, and says so", async () => {
  await using t = await startServer({ maxSessions: 0 });
  for (const path of ["/execute-code", "/execute-code-step"]) {
    const response = await post(`${t.url}${path}`, { code: "1", tool_names: [] }, {
      "x-progtc-api-key": API_KEY,
      "x-progtc-session": "new",
    });
    strictEqual(response.status, 400, path);
    const problem = await response.json();
    deepStrictEqual([problem.code, problem.detail], [
      "invalid_session",
      "This server does not keep sessions",
    ]);
  }
});

Deno.test("a host that dies ends the idle sessions on it, and no process outlives them", async () => {
  await using t = await startServer({ poolSize: 1, maxHosts: 1, hostMaxPrograms: 8 });
  const session = t.client.session();
  const first = await session.executeCode({
    code: "const x = 1; console.log(Deno.pid);",
    tools: {},
  });
  const host = Number(first.stdout);
  const bomb = await t.client.executeCode({
    code: `console.log(Deno.pid);
const keep = [];
for (;;) keep.push(Array.from({ length: 1e5 }, (_, i) => ({ i })));`,
    tools: {},
  });
  strictEqual(bomb.type, "runtime_error");
  strictEqual(Number(bomb.stdout), host, "the session and the bomb did not share a host");
  await waitFor("the host is gone", () => !alive(host));
  await refused(session, 410, "session_ended");
  await assertOnlyPoolHosts(t);
  await assertStillServes(t);
});

Deno.test("a server with a short timeout and two sessions at most", async (t) => {
  await using server = await startServer({ codeExecutionTimeoutMs: 1000, maxSessions: 2 });
  await t.step(
    "a program past its timeout ends its session, says so, and the next is refused",
    async () => {
      const before = charged(server);
      const session = server.client.session();
      strictEqual((await session.executeCode({ code: "const x = 1;", tools: {} })).type, "success");
      const spun = await session.executeCode({ code: "for (;;) {}", tools: {} });
      strictEqual(spun.type, "timeout_error");
      strictEqual(spun.session_ended, true);
      match(
        spun.stderr,
        new RegExp(`\\[progtc: session ${session.id} ended with this program \\(timeout\\)`),
      );
      ok(session.ended);
      await refused(session, 410, "session_ended");
      await waitFor("its memory is given back", () => charged(server) === before);
      await assertStillServes(server);
    },
  );
  await t.step(
    "--max-sessions bounds the sessions open at once; an ended one makes room",
    async () => {
      const [a, b, c] = [server.client.session(), server.client.session(), server.client.session()];
      for (const session of [a, b]) {
        strictEqual((await session.executeCode({ code: "1", tools: {} })).type, "success");
      }
      await refused(c, 503, "too_many_sessions");
      strictEqual((await a.executeCode({ code: "for (;;) {}", tools: {} })).session_ended, true);
      strictEqual((await c.executeCode({ code: "const y = 2;", tools: {} })).type, "success");
      // Executions outside sessions are not bounded by it.
      strictEqual((await server.client.executeCode({ code: "1", tools: {} })).type, "success");
    },
  );
});

Deno.test("the step API runs a session's program in a session, never outside it, within --max-sessions", async () => {
  await using server = await startServer({ maxSessions: 2 });
  const step = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    post(`${server.url}/execute-code-step`, {
      code: "const z = 3; console.log(1)",
      tool_names: [],
      ...body,
    }, { "x-progtc-api-key": API_KEY, ...headers });
  // An id alone names no session on the step API (its state does).
  const named = await step({ session: "0123456789abcdef0123" });
  strictEqual(named.status, 400);
  strictEqual((await named.json()).code, "invalid_session");
  const openers: [Record<string, unknown>, Record<string, string>][] = [
    [{ session: "new" }, {}],
    [{}, { "x-progtc-session": "new" }],
  ];
  for (const [body, headers] of openers) {
    const response = await step(body, headers);
    strictEqual(response.status, 200);
    const result = await response.json();
    deepStrictEqual([result.type, result.stdout], ["success", "1\n"]);
    ok(/^[0-9a-f]{32}$/.test(result.session_id), JSON.stringify(result));
    strictEqual(response.headers.get("x-progtc-session"), result.session_id);
    ok(result.session_state.startsWith("s1."));
  }
  // Two idle step sessions are open: they are a cache (their states rebuild them), so a third
  // session of either API ends the oldest instead of being refused.
  const third = await step({ session: "new" });
  strictEqual(third.status, 200);
  const streaming = server.client.session();
  strictEqual((await streaming.executeCode({ code: "1", tools: {} })).type, "success");
  // A paused step session program holds its session: with it and the streaming one open, a
  // new session is refused.
  const paused = await step({
    session: "new",
    code: `import { a } from "tools"; await a();`,
    tool_names: ["a"],
  });
  strictEqual((await paused.json()).type, "tool_call");
  const refusedStep = await step({ session: "new" });
  strictEqual(refusedStep.status, 503);
  strictEqual((await refusedStep.json()).code, "too_many_sessions");
  await refused(server.client.session(), 503, "too_many_sessions");
  await assertStillServes(server);
});
