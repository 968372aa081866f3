/**
 * Reused sandbox hosts: one host runs program after program, each in a fresh worker. Each test
 * has a first program try to leave something behind for the next one, on a server with a single
 * host, and asserts that the next program sees nothing of it, and whether the host ran the next
 * program (a clean end) or was killed (something of the first program could still run).
 *
 * @module
 */
import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  assertNotLeaked,
  assertProcessGone,
  assertStillServes,
  attempt,
  marker,
  printedPid,
  startOneHostServer,
  startServer,
  type TestServer,
} from "./_attempt.ts";

const PID = `console.log(Deno.pid);`;

/** Runs `second` after `first`; returns both results and whether one host ran both. */
async function twoPrograms(
  server: TestServer,
  first: string,
  second: string,
  tools: Record<string, (...args: never[]) => unknown> = {},
) {
  const a = await attempt(server, `${PID}\n${first}`, { tools });
  strictEqual(a.result.type, "success", a.result.stderr);
  const b = await attempt(server, `${PID}\n${second}`, { tools });
  strictEqual(b.result.type, "success", b.result.stderr);
  const firstPid = printedPid(a.result);
  const secondPid = printedPid(b.result);
  return {
    first: a.result.stdout.slice(`${firstPid}\n`.length),
    second: b.result.stdout.slice(`${secondPid}\n`.length),
    secondResult: b.result,
    firstPid,
    reused: firstPid === secondPid,
  };
}

Deno.test("reuse: globals, prototypes and built-ins changed by one program are fresh in the next", async () => {
  const secret = marker();
  await using server = await startOneHostServer();
  const run = await twoPrograms(
    server,
    `globalThis.leak = "${secret}";
Object.prototype.leak = "${secret}";
Array.prototype.map = () => "${secret}";
JSON.stringify = () => "${secret}";
Promise.prototype.then = function () { throw new Error("${secret}"); };
console.log("set");`,
    `console.log(JSON.stringify([globalThis.leak, ({}).leak, [1].map((x) => x + 1)]));
await Promise.resolve(1).then((x) => console.log(x));`,
  );
  strictEqual(run.first, "set\n");
  strictEqual(run.second, "[null,null,[2]]\n1\n");
  ok(run.reused, "the host was not reused after a clean end");
  assertNotLeaked(run.secondResult, secret);
  await assertStillServes(server);
});

Deno.test("reuse: a module's state and the program's blob URLs do not reach the next program", async () => {
  const secret = marker();
  await using server = await startOneHostServer();
  const module = `data:text/javascript,export const box = { value: 0 };`;
  const first = await attempt(
    server,
    `${PID}
const { box } = await import("${module}");
box.value = "${secret}";
const url = URL.createObjectURL(new Blob(["export default '${secret}';"], { type: "text/javascript" }));
await (await fetch(url)).text();
console.log(url);`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  const pid = printedPid(first.result);
  const url = first.result.stdout.split("\n")[1]!;
  ok(url.startsWith("blob:"), first.result.stdout);
  // The second program is handed the first one's blob URL, as a tenant who learned it would.
  const second = await attempt(
    server,
    `import { url } from "tools";
${PID}
const { box } = await import("${module}");
const found = [box.value];
const address = await url();
try { found.push((await import(address)).default); } catch (e) { found.push(e.name); }
try { found.push(await (await fetch(address)).text()); } catch (e) { found.push(e.name); }
console.log(JSON.stringify(found));`,
    { tools: { url: () => url } },
  );
  strictEqual(second.result.type, "success", second.result.stderr);
  strictEqual(second.result.stdout, `${pid}\n[0,"TypeError","TypeError"]\n`);
  assertNotLeaked(second.result, secret);
  await assertStillServes(server);
});

Deno.test("reuse: storage globals cannot be found again, and store nothing for the next program", async () => {
  const secret = marker();
  await using server = await startOneHostServer();
  const probe = `const names = ["caches", "CacheStorage", "Cache", "localStorage", "sessionStorage",
  "Storage", "indexedDB"];
const found = names.filter((name) => {
  for (let o = globalThis; o; o = Object.getPrototypeOf(o)) {
    if (Object.getOwnPropertyDescriptor(o, name)) return true;
  }
  return false;
});`;
  const run = await twoPrograms(
    server,
    `${probe}
try { await Deno.openKv(); found.push("kv"); } catch (e) { found.push(e.name); }
console.log(JSON.stringify(found));`,
    `${probe}
console.log(JSON.stringify(found));`,
  );
  // Deno.openKv needs write access: refused like any file.
  ok(run.first === '["TypeError"]\n' || run.first === '["NotCapable"]\n', run.first);
  strictEqual(run.second, "[]\n");
  ok(run.reused);
  assertNotLeaked(run.secondResult, secret);
  await assertStillServes(server);
});

Deno.test("reuse: a BroadcastChannel cannot be opened, so nothing left posting to it reaches the next program", async () => {
  const secret = marker();
  await using server = await startOneHostServer();
  const run = await twoPrograms(
    server,
    `try {
  const channel = new BroadcastChannel("progtc-leak");
  setInterval(() => channel.postMessage("${secret}"), 1);
  console.log("posting");
} catch (error) {
  console.log(String(error));
}`,
    `try {
  const channel = new BroadcastChannel("progtc-leak");
  const heard = [];
  channel.onmessage = (event) => heard.push(event.data);
  await new Promise((resolve) => setTimeout(resolve, 200));
  console.log(JSON.stringify(heard));
} catch (error) {
  console.log(String(error));
}`,
  );
  // A channel reaches every realm of the process, programs running beside this one too.
  const refused = "NotCapable: BroadcastChannel is not allowed in the progtc sandbox\n";
  strictEqual(run.first, refused);
  strictEqual(run.second, refused);
  ok(run.reused);
  assertNotLeaked(run.secondResult, secret);
  await assertStillServes(server);
});

Deno.test("reuse: timers, pending promises and a MessageChannel loop left behind never run in the next program", async () => {
  const late = marker("late");
  await using server = await startOneHostServer();
  const run = await twoPrograms(
    server,
    `setTimeout(() => console.log("${late}"), 20);
setInterval(() => console.log("${late}"), 5);
new Promise((resolve) => setTimeout(resolve, 30)).then(() => console.log("${late}"));
const { port1, port2 } = new MessageChannel();
port1.onmessage = () => port2.postMessage(0);
port2.postMessage(0);
console.log("left");`,
    `await new Promise((resolve) => setTimeout(resolve, 150));
console.log("next");`,
  );
  strictEqual(run.first, "left\n");
  strictEqual(run.second, "next\n");
  // The loop yields between messages: terminating its worker stops it, and the host is clean.
  ok(run.reused, "the host was not reused");
  assertNotLeaked(run.secondResult, late);
  await assertStillServes(server);
});

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

// ─── Python ─────────────────────────────────────────────────────────────────────────────────

async function pythonRun(server: TestServer, code: string) {
  const { result } = await attempt(server, `import js\nprint(js.Deno.pid)\n${code}`, {
    language: "python",
  });
  strictEqual(result.type, "success", result.stderr);
  const [pid, ...rest] = result.stdout.split("\n");
  return { pid: Number(pid), stdout: rest.join("\n"), result };
}

Deno.test("reuse (python): modules, builtins, files and the JS realm are fresh in the next program", async () => {
  const secret = marker();
  await using server = await startServer({ poolSize: 0, pythonPoolSize: 0 });
  const first = await pythonRun(
    server,
    `import sys, builtins, json, types, asyncio, js
sys.modules["leak"] = types.ModuleType("leak")
sys.modules["leak"].value = "${secret}"
builtins.leak = "${secret}"
json.dumps = lambda *a, **k: "${secret}"
sys.path.insert(0, "/tmp/${secret}")
with open("/tmp/leak.txt", "w") as f:
    f.write("${secret}")
js.globalThis.leak = "${secret}"
asyncio.get_event_loop().call_later(0.05, print, "${secret}")
print("set")`,
  );
  strictEqual(first.stdout, "set\n");
  const second = await pythonRun(
    server,
    `import sys, builtins, json, os, js, asyncio
await asyncio.sleep(0.1)
print(json.dumps(["leak" in sys.modules, hasattr(builtins, "leak"), os.path.exists("/tmp/leak.txt"),
  any("${secret}" in p for p in sys.path), hasattr(js.globalThis, "leak")]))`,
  );
  strictEqual(second.stdout, "[false, false, false, false, false]\n");
  strictEqual(second.pid, first.pid, "the Python host was not reused after a clean end");
  assertNotLeaked(second.result, secret);
  await assertStillServes(server);
});

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
  const called = Promise.withResolvers<void>();
  const second = attempt(server, `${PID}\nimport { wait } from "tools";\nawait wait();`, {
    tools: {
      wait: () => {
        called.resolve();
        return new Promise(() => {});
      },
    },
  });
  await called.promise;
  Deno.kill(pid, "SIGKILL");
  const { result } = await second;
  strictEqual(printedPid(result), pid, "the second program did not run on the same host");
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stderr, "Error: the sandbox stopped unexpectedly (signal SIGKILL)\n");
  ok(
    !server.logs.some((line) => /out of memory|exceeded its memory/i.test(line)),
    `logged as out of memory: ${server.logs.join("\n")}`,
  );
  await assertStillServes(server);
});
