/**
 * Ending attempts: however a program ends (exit calls, self.close(), unhandled rejections,
 * errors in callbacks, work left in timers), the execution ends with exactly one terminal
 * frame that says how, and nothing it leaves runs on: its host runs the next program in a fresh
 * worker, or is killed when something of the program could still run.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import {
  assertNotLeaked,
  assertProcessGone,
  assertStillServes,
  attempt,
  marker,
  printedPid,
  startOneHostServer,
  startServer,
} from "./_attempt.ts";
import { delay } from "../_helpers.ts";

Deno.test("Deno.exit(0) ends the execution as success, with the output before it", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log("a");\nDeno.exit(0);\nconsole.log("b");`);
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "");
  await assertStillServes(server);
});

Deno.test("Deno.exit(3) ends the execution as runtime_error naming the code", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log("a");\nDeno.exit(3);\nconsole.log("b");`);
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "Error: the program exited with code 3\n");
  await assertStillServes(server);
});

Deno.test("process.exit(2) from node:process ends the execution as runtime_error", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import process from "node:process";
console.log("a");
process.exit(2);
console.log("b");`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "Error: the program exited with code 2\n");
  await assertStillServes(server);
});

Deno.test("The global process.exit() ends the execution as success", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log("a");\nprocess.exit();\nconsole.log("b");`);
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "a\n");
  await assertStillServes(server);
});

Deno.test("process.abort() ends the execution as runtime_error with code 134", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log("a");\nprocess.abort();`);
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "Error: the program exited with code 134\n");
  await assertStillServes(server);
});

Deno.test("self.close() ends the execution as success", async () => {
  await using server = await startServer();
  const { result, ms } = await attempt(
    server,
    `console.log("a");\nself.close();\nconsole.log("b");`,
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, "a\n");
  ok(ms < 5000, `self.close() took ${ms.toFixed(0)} ms to end the execution`);
  await assertStillServes(server);
});

Deno.test("Deno.exit(5) called from a timer ends the execution as runtime_error", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `setTimeout(() => Deno.exit(5), 10);
console.log("a");
await new Promise((resolve) => setTimeout(resolve, 5000));
console.log("b");`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "Error: the program exited with code 5\n");
  await assertStillServes(server);
});

Deno.test("An unhandled rejection ends the execution as runtime_error with the error", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `console.log("a");
Promise.reject(new Error("nobody catches me"));
await new Promise((resolve) => setTimeout(resolve, 5000));
console.log("b");`,
  );
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "a\n");
  strictEqual(result.stderr, "Error: nobody catches me\n    at code.ts:2:16\n");
  await assertStillServes(server);
});

Deno.test("An error thrown in a timer callback ends the execution as runtime_error", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `setTimeout(() => { throw new TypeError("in a timer"); }, 0);
await new Promise((resolve) => setTimeout(resolve, 5000));`,
  );
  strictEqual(result.type, "runtime_error");
  ok(result.stderr.startsWith("TypeError: in a timer\n    at "), result.stderr);
  ok(result.stderr.includes("code.ts:1:"), result.stderr);
  await assertStillServes(server);
});

Deno.test("Throwing a non-Error value ends the execution as runtime_error", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `throw { secret: "object" };`);
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, `Uncaught { secret: "object" }\n`);
  await assertStillServes(server);
});

Deno.test("A timer that prints after the program ends is not in the result or the next execution", async () => {
  const late = marker("late");
  await using server = await startOneHostServer();
  const first = await attempt(
    server,
    `console.log(Deno.pid);
setTimeout(() => console.log("${late}"), 50);
setInterval(() => console.log("${late}"), 10);
console.log("done");`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  const pid = printedPid(first.result);
  strictEqual(first.result.stdout, `${pid}\ndone\n`);
  await delay(150);
  // The program ended by itself: its host runs the next one, in a fresh worker.
  const second = await attempt(server, `console.log(Deno.pid); console.log("next");`);
  strictEqual(second.result.type, "success");
  strictEqual(second.result.stdout, `${pid}\nnext\n`);
  assertNotLeaked(second.result, late);
  await assertStillServes(server);
});

Deno.test("A CPU loop left running after the end does not outlive the execution", async () => {
  await using server = await startServer();
  // A hundred promise turns later: after the runner said the program ended. (A loop in a
  // timer may not start before its worker is terminated; reuse_test.ts has both.)
  const { result } = await attempt(
    server,
    `console.log(Deno.pid);
let later = Promise.resolve();
for (let i = 0; i < 100; i++) later = later.then(() => {});
later.then(() => { while (true) {} });
console.log("done");`,
  );
  strictEqual(result.type, "success", result.stderr);
  strictEqual(result.stdout, `${printedPid(result)}\ndone\n`);
  await assertProcessGone(printedPid(result));
  await assertStillServes(server);
});
