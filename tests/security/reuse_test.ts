/**
 * Reused sandbox hosts, what a program leaves in its realm: one host runs program after
 * program, each in a fresh worker. Each test has a first program try to leave something behind
 * for the next one (globals, module state, blob URLs, storage, a BroadcastChannel, timers;
 * Python's modules, files and JS realm), on a server with a single host, and asserts that the
 * next program sees nothing of it and that the host ran it. How a program's end decides
 * whether its host runs the next: reuse_ends_test.ts.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import {
  assertNotLeaked,
  assertStillServes,
  attempt,
  marker,
  PID,
  printedPid,
  startOneHostServer,
  startServer,
  type TestServer,
  twoPrograms,
} from "./_attempt.ts";

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
