/**
 * Real sandboxes that crash: a host killed by a signal ends every program on it with one frame
 * naming the signal, is replaced, and the server keeps serving; a tool result that comes after
 * the crash is too late.
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { assertStillServes, openStream, post, startServer } from "../_helpers.ts";
import { assertKilled, nextSandbox, STRICT } from "./_faults.ts";

Deno.test("a real host that dies of a signal ends every program on it with one frame naming the signal", async () => {
  // A program cannot signal its host (Deno.kill refuses: security/sys_test.ts); a runtime panic
  // or a C-level abort ends in SIGABRT, sent here from outside. Three programs share the host
  // (also in the strict mode: what ends with a shared host is the point).
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 8 });
  const pid = await nextSandbox();
  const streams = await Promise.all(
    [1, 2, 3].map((n) =>
      openStream(t.url, {
        code: `import { wait } from "tools"; console.log("before ${n}"); await wait();`,
        tool_names: ["wait"],
      })
    ),
  );
  for (const stream of streams) strictEqual((await stream.next()).type, "tool_call");
  Deno.kill(pid, "SIGABRT");
  const ends = await Promise.all(streams.map((stream) => stream.rest()));
  deepStrictEqual(
    ends,
    [1, 2, 3].map((n) => [{
      type: "runtime_error",
      stdout: `before ${n}\n`,
      stderr:
        "Error: the sandbox stopped unexpectedly (signal SIGABRT) (with the 2 other programs it ran)\n",
    }]),
  );
  await assertKilled(pid, "SIGABRT");
  for (const line of t.logs) match(line, /runtime_error \(crashed: signal SIGABRT/);
  await assertStillServes(t);
});

Deno.test("a real sandbox killed from outside while a tool call is pending ends the stream with runtime_error", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { wait } from "tools"; console.log("calling"); console.log(await wait());`,
    tool_names: ["wait"],
  });
  const call = await stream.next();
  strictEqual(call.type, "tool_call");
  Deno.kill(pid, "SIGKILL");
  deepStrictEqual(await stream.rest(), [{
    type: "runtime_error",
    stdout: "calling\n",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGKILL)\n",
  }]);
  match(t.logs[0]!, /runtime_error \(crashed: signal SIGKILL\) .*, 1 tool calls/);
  // The answer comes too late: our client is told, the reference client gets its 200.
  const answer = { execution_id: call.execution_id, tool_call_id: call.id, result: 1 };
  const strict = await post(`${t.url}/tool-results`, answer, STRICT);
  strictEqual(strict.status, 409);
  strictEqual((await strict.json()).code, "tool_call_not_pending");
  await assertKilled(pid, "killed from outside");
  await assertStillServes(t);
});
