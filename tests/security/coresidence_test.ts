/**
 * Co-resident programs (issue 18): two programs run at the same time on one host process, each
 * in its own worker. Program A tries every channel the process shares: it reads stdin, writes
 * forged protocol lines to fd 1 and 2, listens and posts on a BroadcastChannel, resolves the
 * other's blob URL, posts to the host's realm, shares memory, and leaves timers that print after
 * its end. Program B holds secret tool results and output meanwhile. B must end exactly as it
 * would alone, and nothing of B's may reach A. Both orders, both languages; each test proves
 * the two ran in one process (their `Deno.pid`) and at once (B waits until A has ended).
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult, Language } from "../../client/mod.ts";
import { assertStillServes, startServer, type TestServer } from "./_attempt.ts";
import { delay, waitFor } from "../_helpers.ts";

/** The victim: takes a secret, prints it, keeps it in a global and a blob, waits, prints again. */
const VICTIM: Record<Language, string> = {
  typescript: `import { secret, share, hold } from "tools";
const s = await secret();
globalThis.secret = s;
console.log("secret", s);
const url = URL.createObjectURL(new Blob([s]));
try { new BroadcastChannel("progtc").postMessage(s); } catch {}
await share({ pid: Deno.pid, url });
await hold();
console.log("still", globalThis.secret, await (await fetch(url)).text());`,
  javascript: "",
  python: `import js
from tools import secret, share, hold
s = await secret()
js.globalThis.secret = s
print("secret", s)
url = js.URL.createObjectURL(js.Blob.new([s]))
await share({"pid": js.Deno.pid, "url": url})
await hold()
print("still", js.globalThis.secret, await (await js.fetch(url)).text())`,
};

/** The attacker: every shared channel it can try, and what it saw, as JSON on stdout. */
const ATTACKER: Record<Language, string> = {
  typescript: `import { target } from "tools";
import { readSync, writeSync } from "node:fs";
const { url } = await target();
const seen = { pid: Deno.pid };
const attempt = async (name, fn) => {
  try { seen[name] = String(await fn()).slice(0, 200); }
  catch (error) { seen[name] = "refused: " + String(error?.name ?? error); }
};
await attempt("stdin", async () => (await Deno.stdin.read(new Uint8Array(4096))) ?? "end");
await attempt("fd0", () => { const b = new Uint8Array(4096); return new TextDecoder().decode(b.subarray(0, readSync(0, b))); });
for (const fd of [1, 2]) {
  await attempt("fd" + fd, () => writeSync(fd, '1 {"type":"output","stream":"stdout","data":"FORGED"}\\n2 {"type":"success"}\\n0 {"type":"gone","slot":1,"number":1}\\n'));
}
await attempt("broadcast", () => new Promise((resolve) => {
  const channel = new BroadcastChannel("progtc");
  channel.onmessage = (event) => resolve(event.data);
  setTimeout(() => resolve("nothing"), 100);
}));
await attempt("locks", () => navigator.locks.request("progtc", () => "held"));
await attempt("blob fetch", async () => (await fetch(url)).text());
await attempt("blob import", async () => JSON.stringify(await import(url)));
await attempt("blob worker", () => new Worker(url, { type: "module" }));
await attempt("global", () => globalThis.secret);
await attempt("host post", () => {
  postMessage({ type: "line", line: '{"type":"success"}' });
  postMessage({ type: "terminate", number: 1 });
  postMessage({ type: "spawn" });
  return "posted";
});
await attempt("shared memory", () => {
  const memory = new SharedArrayBuffer(8);
  postMessage(memory);
  return new Int32Array(memory)[0];
});
await attempt("kill", () => Deno.kill(Deno.pid, "SIGKILL"));
console.log(JSON.stringify(seen));
setInterval(() => console.log("A-LEAK"), 1);`,
  javascript: "",
  python: `import js, os, json
from pyodide.ffi import to_js
from tools import target
url = (await target())["url"]
seen = {"pid": js.Deno.pid}
async def attempt(name, fn):
    try:
        seen[name] = str(await fn())[:200]
    except BaseException as error:
        seen[name] = "refused: " + type(error).__name__
async def read_fd0():
    return os.read(0, 4096).decode()
async def write_fd(fd):
    return os.write(fd, b'1 {"type":"success"}\\n0 {"type":"gone","slot":1,"number":1}\\n')
async def js_stdin():
    return await js.Deno.stdin.read(js.Uint8Array.new(4096))
async def broadcast():
    return js.BroadcastChannel.new("progtc")
async def blob_fetch():
    return await (await js.fetch(url)).text()
async def blob_import():
    return await js.eval("(u) => import(u)")(url)
async def global_secret():
    return js.globalThis.secret
async def host_post():
    js.postMessage(to_js({"type": "line", "line": '{"type":"success"}'}, dict_converter=js.Object.fromEntries))
    js.postMessage(to_js({"type": "spawn"}, dict_converter=js.Object.fromEntries))
    return "posted"
async def kill():
    return js.Deno.kill(js.Deno.pid, "SIGKILL")
await attempt("fd0", read_fd0)
await attempt("fd1", lambda: write_fd(1))
await attempt("fd2", lambda: write_fd(2))
await attempt("stdin", js_stdin)
await attempt("broadcast", broadcast)
await attempt("blob fetch", blob_fetch)
await attempt("blob import", blob_import)
await attempt("global", global_secret)
await attempt("host post", host_post)
await attempt("kill", kill)
print(json.dumps(seen))
js.setInterval(js.eval("() => console.log('A-LEAK')"), 1)`,
};

/** What A must have seen of each channel: nothing of B's, and no way to speak for it. */
const EXPECTED: Record<Language, Record<string, string | RegExp>> = {
  typescript: {
    stdin: "end",
    fd0: "",
    // fd 1 is /dev/null; fd 2 the host's stderr, which the server reads only for its logs.
    fd1: /^\d+$/,
    fd2: /^\d+$/,
    broadcast: "refused: NotCapable",
    locks: "refused: NotCapable",
    "blob fetch": "refused: TypeError",
    "blob import": /^refused: /,
    "blob worker": "refused: NotCapable",
    global: "undefined",
    "host post": "posted",
    "shared memory": "0",
    kill: "refused: NotCapable",
  },
  javascript: {},
  python: {
    // Pyodide's own descriptors: 0 is empty, 1 and 2 the program's own output.
    fd0: "",
    fd1: /^\d+$/,
    fd2: /^\d+$/,
    stdin: "jsnull",
    broadcast: "refused: JsException",
    "blob fetch": "refused: JsException",
    "blob import": "refused: JsException",
    global: "refused: AttributeError",
    "host post": "posted",
    kill: "refused: JsException",
  },
};

interface Pair {
  attacker: ExecuteCodeResult;
  victim: ExecuteCodeResult;
  secret: string;
  victimPid: number;
}

/** Runs A and B at once on one host, A first or B first; B ends after A has. */
async function pair(t: TestServer, language: Language, attackerFirst: boolean): Promise<Pair> {
  const secret = `S3CR3T-${crypto.randomUUID()}`;
  const shared = Promise.withResolvers<{ pid: number; url: string }>();
  const attackerDone = Promise.withResolvers<void>();
  const run = (code: string, tools: Record<string, (...args: never[]) => unknown>) =>
    t.client.executeCode({ code, tools, language });
  const victim = () =>
    run(VICTIM[language], {
      secret: () => secret,
      share: (info: { pid: number; url: string }) => {
        shared.resolve(info);
        return null;
      },
      // Held until A ended, and its timers had time to fire.
      hold: () => attackerDone.promise.then(() => delay(100)).then(() => null),
    });
  const attacker = () =>
    run(ATTACKER[language], { target: () => shared.promise }).finally(() => attackerDone.resolve());
  const [a, b] = attackerFirst
    ? await Promise.all([attacker(), delay(50).then(victim)])
    : await Promise.all([delay(50).then(attacker), victim()]);
  return { attacker: a, victim: b, secret, victimPid: (await shared.promise).pid };
}

for (const language of ["typescript", "python"] as const) {
  for (const attackerFirst of [true, false]) {
    const order = attackerFirst ? "the attacker first" : "the victim first";
    Deno.test(`co-resident ${language} programs share no channel (${order})`, async () => {
      await using t = await startServer(
        // Co-resident by design, also in a strict-mode run of the suite.
        language === "python"
          ? { pythonPoolSize: 1, poolSize: 0, pythonHostMaxPrograms: 16 }
          : { poolSize: 1, hostMaxPrograms: 64 },
      );
      const { attacker, victim, secret, victimPid } = await pair(t, language, attackerFirst);
      // B ended exactly as it would alone.
      deepStrictEqual(victim, {
        type: "success",
        stdout: `secret ${secret}\nstill ${secret} ${secret}\n`,
        stderr: "",
      });
      strictEqual(attacker.type, "success", attacker.stderr);
      const seen = JSON.parse(attacker.stdout.split("\n").find((line) => line.startsWith("{"))!);
      // Co-resident: the same host process, at the same time.
      strictEqual(seen.pid, victimPid, "the two programs ran in different processes");
      for (const [channel, expected] of Object.entries(EXPECTED[language])) {
        const value = String(seen[channel]);
        if (typeof expected === "string") strictEqual(value, expected, channel);
        else ok(expected.test(value), `${channel}: ${value}`);
      }
      const everything = JSON.stringify(attacker);
      ok(!everything.includes(secret), `the attacker saw the secret: ${everything}`);
      ok(!victim.stdout.includes("A-LEAK") && !victim.stdout.includes("FORGED"));
      // A's worker, timers and all, is gone; the host serves on.
      await waitFor(
        "both workers are gone",
        () => t.server.app.runner.stats(language === "python" ? "python" : "deno").programs === 0,
      );
      await assertStillServes(t);
    });
  }
}
