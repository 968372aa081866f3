/**
 * Blast radius (issue 18): what one program does to the programs beside it on its host. A
 * program that exhausts its V8 heap takes its process down (V8 does not survive it): the five
 * programs waiting on tool calls beside it each get one terminal frame that says so, the host is
 * replaced, and no process outlives its programs. A program that traps in wasm ends alone.
 * Co-residence is proven by each program's `Deno.pid`, sent as its call's argument.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  alive,
  API_KEY,
  assertOnlyPoolHosts,
  assertStillServes,
  openStream,
  post,
  startServer,
  waitFor,
} from "../_helpers.ts";

/** Answers one tool call of a stream. */
async function answer(url: string, call: Record<string, unknown>, result: unknown) {
  const response = await post(`${url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result,
  }, { "x-progtc-api-key": API_KEY });
  strictEqual(response.status, 200);
  await response.body?.cancel();
}

/** Opens five programs that each call `wait` with their host's pid and wait for the answer. */
async function fiveWaiting(url: string) {
  const streams = await Promise.all(
    [1, 2, 3, 4, 5].map((n) =>
      openStream(url, {
        code: `import { wait } from "tools";
console.log("waiting ${n}");
console.log(await wait(Deno.pid));`,
        tool_names: ["wait"],
      })
    ),
  );
  const calls = await Promise.all(streams.map((stream) => stream.next()));
  for (const call of calls) strictEqual(call.type, "tool_call", JSON.stringify(call));
  return { streams, calls, pids: calls.map((call) => (call.args as number[])[0]) };
}

Deno.test("a program that exhausts its heap ends the five programs beside it, each with one frame, and its host is replaced", async () => {
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 64 });
  const { streams, pids } = await fiveWaiting(t.url);
  const bomb = await openStream(t.url, {
    code: `import { wait } from "tools";
await wait(Deno.pid);
const keep = [];
for (;;) keep.push(Array.from({ length: 1e5 }, (_, i) => ({ i })));`,
    tool_names: ["wait"],
  });
  const call = await bomb.next();
  const host = (call.args as number[])[0];
  deepStrictEqual(new Set(pids), new Set([host]), "the six programs did not share one host");
  await answer(t.url, call, 0);
  const ended = await Promise.all([bomb, ...streams].map((stream) => stream.rest()));
  const crashed = "RangeError: the sandbox process ran out of memory and was stopped " +
    "(with the 5 other programs it ran)\n";
  deepStrictEqual(ended[0], [{ type: "runtime_error", stdout: "", stderr: crashed }]);
  for (const [i, frames] of ended.slice(1).entries()) {
    deepStrictEqual(frames, [{
      type: "runtime_error",
      stdout: `waiting ${i + 1}\n`,
      stderr: crashed,
    }]);
  }
  await waitFor("the host is gone", () => !alive(host!));
  await assertOnlyPoolHosts(t);
  ok(!t.server.app.runner.pids("deno").includes(host!));
  await assertStillServes(t);
});

/** `(module (func (export "f") unreachable))` */
const TRAP = [
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  4,
  1,
  96,
  0,
  0,
  3,
  2,
  1,
  0,
  7,
  5,
  1,
  1,
  102,
  0,
  0,
  10,
  5,
  1,
  3,
  0,
  0,
  11,
];

Deno.test("a program that traps in wasm ends alone: the five programs beside it finish", async () => {
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 64 });
  const { streams, calls, pids } = await fiveWaiting(t.url);
  const trap = await t.client.executeCode({
    code: `const { instance } = await WebAssembly.instantiate(new Uint8Array(${
      JSON.stringify(TRAP)
    }));
console.log(Deno.pid);
instance.exports.f();`,
    tools: {},
  });
  strictEqual(trap.type, "runtime_error");
  ok(trap.stderr.startsWith("RuntimeError: unreachable"), trap.stderr);
  deepStrictEqual(new Set(pids), new Set([Number(trap.stdout.trim())]));
  // The five are answered after the trap, on the same host, and end as themselves.
  await Promise.all(calls.map((call) => answer(t.url, call, "ok")));
  const ended = await Promise.all(streams.map((stream) => stream.rest()));
  for (const [i, frames] of ended.entries()) {
    deepStrictEqual(frames, [{ type: "success", stdout: `waiting ${i + 1}\nok\n`, stderr: "" }]);
  }
  await assertOnlyPoolHosts(t);
  await assertStillServes(t);
});
