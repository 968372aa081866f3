/**
 * `Execution` over a fake sandbox (`_fake_sandbox.ts`), in process: wire ids, call keys, the
 * protocol checks, limits, and whether its end lets the sandbox's host run another program. The
 * same on real sandboxes is in `execute_code_test.ts`, `limits_test.ts` and
 * `faults/program_faults_test.ts`.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { Execution, type ExecutionEnd, type KeyedToolCall } from "../server/execution.ts";
import { type Limits, limitsOf } from "../server/limits.ts";
import type { EndCode } from "../server/end_reason.ts";
import { resolveOptions } from "../server/options.ts";
import { runMessage } from "../runner/run_message.ts";
import { type FakeProgram, FakeSandbox } from "./_fake_sandbox.ts";
import { waitFor } from "./_helpers.ts";

const LIMITS = limitsOf(resolveOptions({ apiKey: "k" }));

function start(
  program: FakeProgram,
  limits: Partial<Limits> = {},
  tools = ["t"],
  startsAfterMs?: number,
) {
  const sandbox = new FakeSandbox(
    () => program,
    startsAfterMs === undefined ? {} : { startsAfterMs },
  );
  const calls: KeyedToolCall[] = [];
  const ended = Promise.withResolvers<{ result: ExecutionEnd; why: EndCode }>();
  const execution = new Execution(sandbox, tools, { ...LIMITS, ...limits }, {
    toolCall: (call) => calls.push(call),
    end: (result, reason) => ended.resolve({ result, why: reason.code }),
  });
  execution.start(runMessage("typescript", "", tools, { ...LIMITS, ...limits, reportIdle: false }));
  return { sandbox, execution, calls, ended: ended.promise };
}

const until = (condition: () => boolean) => waitFor("the condition", condition, 5000, 1);

Deno.test("Execution gives each call a fresh wire id and passes its call key", async () => {
  const t = start(async ({ call, print }) => {
    print(`${await call("t", [1], { frame: [0, 2], index: 3 })}\n`);
  });
  await until(() => t.calls.length === 1);
  const [call] = t.calls;
  match(call!.id, /^[0-9a-f]{32}$/);
  strictEqual(call!.execution_id, t.execution.id);
  deepStrictEqual([call!.frame_id, call!.call_index, call!.args], [[0, 2], 3, [1]]);
  strictEqual(t.execution.deliver(call!.id, { value: "ok" }), "ok");
  strictEqual(t.execution.deliver(call!.id, { value: "again" }), "not_pending");
  strictEqual(t.execution.deliver("0".repeat(32), { value: 1 }), "unknown");
  deepStrictEqual((await t.ended).result, { type: "success", stdout: "ok\n", stderr: "" });
  // The program ended by itself: there was nothing to stop.
  deepStrictEqual([t.sandbox.finished, t.sandbox.stopped], [true, false]);
});

Deno.test("Execution ends with a violation, and stops the program, on a call to a tool the program was not given", async () => {
  const t = start(({ call }) => call("secret").then(() => {}));
  const { result, why } = await t.ended;
  strictEqual(result.type, "runtime_error");
  match(result.stderr, /broke the protocol \(call to unknown tool "secret"\)/);
  strictEqual(why, "violation");
  strictEqual(t.calls.length, 0);
  strictEqual(t.sandbox.stopped, true);
});

Deno.test("Execution truncates output past its limit, and the program still ends as itself", async () => {
  const t = start(({ print }) => {
    print("x".repeat(100));
    return Promise.resolve();
  }, { maxOutputBytes: 10 });
  const { result } = await t.ended;
  strictEqual(result.type, "success");
  ok(result.stdout.includes("[progtc: output truncated, the limit is 10 bytes]"), result.stdout);
  deepStrictEqual([t.sandbox.finished, t.sandbox.stopped], [true, false]);
});

Deno.test("Execution stops a program at its timeout, keeps its output and stops the program", async () => {
  const t = start(async ({ print }) => {
    print("before\n");
    await new Promise(() => {});
  }, { executionTimeoutMs: 50 });
  const { result, why } = await t.ended;
  deepStrictEqual([result.type, result.stdout, why], ["timeout_error", "before\n", "timeout"]);
  strictEqual(t.sandbox.stopped, true);
});

Deno.test("Execution fails a call past its timeout with TimeoutError in the program, and ends at most once", async () => {
  const t = start(async ({ call, print }) => {
    try {
      await call("t");
    } catch (error) {
      print(`${(error as Error).name}\n`);
    }
  }, { toolCallTimeoutMs: 30 });
  const { result } = await t.ended;
  deepStrictEqual(result, { type: "success", stdout: "TimeoutError\n", stderr: "" });
  strictEqual(t.sandbox.finished, true);
  t.execution.cancel("late");
  strictEqual(t.execution.ended, true);
});

Deno.test("Execution counts the lines of the calls not answered: an answer frees its call's room, past the bound is a violation", async () => {
  const arg = "x".repeat(100);
  // Each call's line is ~170 characters: two fit, three do not.
  const limits = { maxPendingCallChars: 400 };
  const paced = start(async ({ call }) => {
    const first = call("t", [arg]);
    const second = call("t", [arg]);
    await first;
    await Promise.all([second, call("t", [arg])]);
  }, limits);
  await until(() => paced.calls.length === 2);
  paced.execution.deliver(paced.calls[0]!.id, { value: 1 });
  await until(() => paced.calls.length === 3);
  for (const call of paced.calls.slice(1)) paced.execution.deliver(call.id, { value: 2 });
  strictEqual((await paced.ended).result.type, "success");

  const flood = start(async ({ call }) => {
    await Promise.all([1, 2, 3].map(() => call("t", [arg])));
  }, limits);
  const { result, why } = await flood.ended;
  strictEqual(result.type, "runtime_error");
  match(result.stderr, /broke the protocol \(tool calls not answered over 400 characters\)/);
  strictEqual(why, "violation");
  strictEqual(flood.calls.length, 2);
});

Deno.test("Execution's clock starts when a worker takes the program, not when it is sent", async () => {
  // It waits 250 ms for a worker, then runs 200 ms: within its 300 ms timeout once it runs,
  // past it counted from when it was sent.
  const sent = performance.now();
  const t = start(
    async ({ print }) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      print("ran\n");
    },
    { executionTimeoutMs: 300 },
    ["t"],
    250,
  );
  const { result, why } = await t.ended;
  deepStrictEqual([result.type, result.stdout, why], ["success", "ran\n", "success"]);
  ok(performance.now() - sent >= 440, "it ran after its wait");
});

Deno.test("Execution ends a program no worker takes within its timeout, saying it never started", async () => {
  const t = start(() => Promise.resolve(), { executionTimeoutMs: 150 }, ["t"], Infinity);
  const { result, why } = await t.ended;
  strictEqual(result.type, "timeout_error");
  strictEqual(
    result.stderr,
    "TimeoutError: the program did not start: no sandbox worker took it within 0.15 s\n",
  );
  strictEqual(why, "start_timeout");
  deepStrictEqual([t.sandbox.finished, t.sandbox.stopped], [true, true]);
});

Deno.test("Execution's wait for a worker is bounded by its timeout, and its run by the whole timeout again", async () => {
  // It waits 100 ms, then loops past its 200 ms: it ends at ~300 ms from the send, as a run
  // that did not finish (not as one that did not start).
  const sent = performance.now();
  const t = start(() => new Promise(() => {}), { executionTimeoutMs: 200 }, ["t"], 100);
  const { result, why } = await t.ended;
  const ms = performance.now() - sent;
  strictEqual(result.stderr, "TimeoutError: the program did not finish within 0.2 s\n");
  strictEqual(why, "timeout");
  ok(ms >= 290, `it had its whole timeout once it ran (ended ${ms.toFixed(0)} ms after the send)`);
});

Deno.test("Execution keeps the output its program sent before its deadline, read after it by a server busy past it", async () => {
  // The output crosses a real socket, as a host's lines do. The server is busy from before the
  // deadline until after it: its event loop then runs the expired timer before it reads the
  // socket, and the end waits one turn for the line already there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ port: listener.addr.port });
  const socket = await listener.accept();
  try {
    const t = start(async ({ print }) => {
      await socket.read(new Uint8Array(16));
      print("sent before the deadline\n");
      await new Promise(() => {});
    }, { executionTimeoutMs: 50 });
    await client.write(new Uint8Array([1]));
    for (const end = performance.now() + 150; performance.now() < end;);
    const { result, why } = await t.ended;
    deepStrictEqual(
      [result.type, result.stdout, why],
      ["timeout_error", "sent before the deadline\n", "timeout"],
    );
  } finally {
    client.close();
    socket.close();
    listener.close();
  }
});
