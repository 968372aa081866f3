/**
 * Reused sandbox hosts, how a program's end decides whether its host runs the next: a program
 * that ends with a tool call unanswered or exits mid-run leaves a clean host; one whose code
 * still runs after its end gets its host killed, and the next program a new one; what a
 * program writes to fd 2 does not decide how the next one is reported. What a program leaves
 * in its realm: reuse_test.ts.
 *
 * @module
 */
import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  assertProcessGone,
  assertStillServes,
  attempt,
  PID,
  printedPid,
  startOneHostServer,
  twoPrograms,
} from "./_attempt.ts";

Deno.test("reuse: a program that ends with a tool call unanswered leaves no read behind", async () => {
  await using server = await startOneHostServer();
  let calls = 0;
  const tools = {
    slow: () => new Promise((resolve) => setTimeout(() => resolve("late"), 300)),
    echo: (value: unknown) => {
      calls++;
      return value;
    },
  };
  const run = await twoPrograms(
    server,
    `import { slow } from "tools";
slow(); // never awaited: the program ends while its worker waits for this result
console.log("done");`,
    `import { echo } from "tools";
console.log(await echo(1), await echo(2), await echo(3));`,
    tools,
  );
  strictEqual(run.first, "done\n");
  // The second program's results all reached it: nothing of the first took them.
  strictEqual(run.second, "1 2 3\n");
  strictEqual(calls, 3);
  ok(run.reused, "the host was not reused after a clean end with a read open");
  await assertStillServes(server);
});

/** Runs `code` after the program's runner has said it ended (a hundred promise turns later). */
const AFTER_THE_END = (code: string) =>
  `let later = Promise.resolve();
for (let i = 0; i < 100; i++) later = later.then(() => {});
later.then(() => { ${code} });`;

Deno.test("reuse: a busy loop left running after the end gets the host killed, and the next program a new one", async () => {
  await using server = await startOneHostServer();
  // (A loop in a timer may or may not start before its worker is terminated: if not, the host
  // is clean and reused. This one always runs.)
  const first = await attempt(
    server,
    `${PID}\n${AFTER_THE_END("for (;;) {}")}\nconsole.log("left");`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  const pid = printedPid(first.result);
  await assertProcessGone(pid);
  const second = await attempt(server, `${PID}\nconsole.log("next");`);
  strictEqual(second.result.type, "success");
  notStrictEqual(printedPid(second.result), pid);
  await assertStillServes(server);
});

// The server closes a host's stdin once it has said the key: a read finds its end at once.
for (
  const [how, loop, killed] of [
    [
      "a blocking read (a busy loop at its end: the host is killed)",
      `const buffer = new Uint8Array(64);\n${AFTER_THE_END("for (;;) fs.readSync(0, buffer);")}`,
      true,
    ],
    [
      "an asynchronous read (it yields: its worker is terminated, the host serves on)",
      `const buffer = new Uint8Array(64);
const again = () => fs.read(0, buffer, 0, 64, null, (error, n) => {
  if (n > 0) fs.writeSync(2, buffer.subarray(0, n));
  again();
});
again();`,
      false,
    ],
  ] as const
) {
  Deno.test(`reuse: ${how} of stdin left after the end takes nothing of the next program`, async () => {
    await using server = await startOneHostServer();
    const first = await attempt(
      server,
      `import fs from "node:fs";\n${PID}\n${loop}\nconsole.log("left");`,
    );
    strictEqual(first.result.type, "success", first.result.stderr);
    const pid = printedPid(first.result);
    if (killed) await assertProcessGone(pid);
    const second = await attempt(
      server,
      `import { echo } from "tools";\n${PID}\nconsole.log(await echo("mine"));`,
      { tools: { echo: (value: unknown) => value } },
    );
    strictEqual(second.result.type, "success", second.result.stderr);
    if (killed) notStrictEqual(printedPid(second.result), pid);
    else strictEqual(printedPid(second.result), pid);
    strictEqual(second.result.stdout.split("\n")[1], "mine");
    await assertStillServes(server);
  });
}

Deno.test("reuse: a program that exits mid-run leaves a clean host for the next", async () => {
  await using server = await startOneHostServer();
  const run = await twoPrograms(
    server,
    `setTimeout(() => console.log("late"), 10);
console.log("bye");
Deno.exit(0);
console.log("never");`,
    `await new Promise((resolve) => setTimeout(resolve, 50));
console.log("next");`,
  );
  strictEqual(run.first, "bye\n");
  strictEqual(run.second, "next\n");
  ok(run.reused);
  await assertStillServes(server);
});

/** Starts a program that prints its pid and waits on a tool that never answers; resolves once it waits. */
async function waitingOnATool(server: Parameters<typeof attempt>[0]) {
  const called = Promise.withResolvers<void>();
  const ended = attempt(server, `${PID}\nimport { wait } from "tools";\nawait wait();`, {
    tools: {
      wait: () => {
        called.resolve();
        return new Promise(() => {});
      },
    },
  });
  await called.promise;
  return { ended };
}

Deno.test("reuse: what one program writes to fd 2 does not decide how the next one is reported", async () => {
  await using server = await startOneHostServer();
  // The first program writes what V8 and Rust print when they run out of memory, and ends cleanly.
  const first = await attempt(
    server,
    `${PID}
import { writeSync } from "node:fs";
writeSync(2, "\\n#\\n# Fatal JavaScript out of memory: Reached heap limit\\nmemory allocation of 1 bytes failed\\n");
console.log("written");`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  const pid = printedPid(first.result);
  // The next program on the same host waits on a tool while the host is killed from outside.
  const second = await waitingOnATool(server);
  Deno.kill(pid, "SIGKILL");
  const { result } = await second.ended;
  strictEqual(printedPid(result), pid, "the second program did not run on the same host");
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, "Error: the sandbox stopped unexpectedly (signal SIGKILL)\n");
  ok(
    !server.logs.some((line) => /out of memory|exceeded its memory/i.test(line)),
    `logged as out of memory: ${server.logs.join("\n")}`,
  );
  await assertStillServes(server);
});

Deno.test("reuse: a host's end counts the programs it ended, not one that had ended before", async () => {
  // Co-resident by design (also in a strict-mode run of the suite).
  await using server = await startOneHostServer({ hostMaxPrograms: 4 });
  // The second waits on a tool beside the first; the first ends with a loop its worker cannot
  // be stopped in, so its slot stays taken until the host goes.
  const second = await waitingOnATool(server);
  const first = await attempt(
    server,
    `${PID}\n${AFTER_THE_END("for (;;) {}")}\nconsole.log("left");`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  const pid = printedPid(first.result);
  Deno.kill(pid, "SIGKILL");
  const { result } = await second.ended;
  strictEqual(printedPid(result), pid, "the two programs did not share a host");
  strictEqual(result.type, "runtime_error");
  // Before, "(with the 1 other programs it ran)": the first's slot, whose program had ended.
  strictEqual(result.stderr, "Error: the sandbox stopped unexpectedly (signal SIGKILL)\n");
  await assertStillServes(server);
});
