/**
 * A Python host hands each worker its own copy of the snapshot and takes the buffer back once
 * the worker has restored (`sandbox/python/snapshot_copies.ts`); the host takes that from a
 * worker's global scope, where a program can post too. A program posts buffers of exactly the
 * snapshot's length full of 0xFF (transferred, copied, and a SharedArrayBuffer it goes on
 * writing) and stays; the programs after it, on the same host, while it waits and after it
 * ended, must all restore and run as if it had not. A worker that restored a poisoned copy would
 * fail: the bytes are Pyodide's whole memory.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { preparePython } from "../../runner/python.ts";
import { sparseSnapshot } from "../../sandbox/python/bootstrap.ts";
import { assertStillServes, startServer } from "./_attempt.ts";
import { waitFor } from "../_helpers.ts";

const POISON = `import js
from tools import ready, hold
sent = js.eval("""(length) => {
  const poison = () => new Uint8Array(length).fill(255).buffer;
  const sent = [];
  const moved = poison();
  postMessage({ type: "snapshot-copy", buffer: moved }, [moved]);
  sent.push(moved.byteLength === 0 ? "transferred" : "kept");
  postMessage({ type: "snapshot-copy", buffer: poison() });
  sent.push("copied");
  const shared = new SharedArrayBuffer(length);
  const view = new Uint8Array(shared).fill(255);
  try {
    postMessage({ type: "snapshot-copy", buffer: shared });
    sent.push("shared");
  } catch (error) {
    sent.push("shared refused: " + error.name);
  }
  setInterval(() => view.fill(255), 1);
  return sent.join(",");
}""")(LENGTH)
print(sent)
await ready(js.Deno.pid)
await hold()
print("end")`;

const VICTIM = `import js
print("ok", sum(range(10)), js.Deno.pid)`;

Deno.test("a program's posted buffers never become the snapshot a later worker restores", async () => {
  const { snapshot } = await preparePython();
  const length = sparseSnapshot(await Deno.readFile(snapshot)).data.byteLength;
  // One host, co-resident by design (also in a strict-mode run of the suite).
  await using t = await startServer({ pythonPoolSize: 1, poolSize: 0, pythonHostMaxPrograms: 16 });
  const ready = Promise.withResolvers<number>();
  const release = Promise.withResolvers<null>();
  const attacker = t.client.executeCode({
    language: "python",
    code: POISON.replace("LENGTH", String(length)),
    tools: {
      ready: (pid: number) => {
        ready.resolve(pid);
        return null;
      },
      hold: () => release.promise,
    },
  });
  const pid = await ready.promise;
  const victim = async () => {
    const result = await t.client.executeCode({ language: "python", code: VICTIM, tools: {} });
    strictEqual(result.type, "success", JSON.stringify(result));
    // Why another host ran it, if one did: the server's lines say (a host drained, retired…).
    strictEqual(
      result.stdout,
      `ok 45 ${pid}\n`,
      `not on the attacker's host:\n${t.logs.join("\n")}`,
    );
  };
  // More programs than the host keeps spares: later ones take given-back buffers.
  for (let i = 0; i < 4; i++) await victim();
  release.resolve(null);
  const ended = await attacker;
  strictEqual(ended.type, "success", JSON.stringify(ended));
  strictEqual(ended.stdout, "transferred,copied,shared\nend\n");
  for (let i = 0; i < 3; i++) await victim();
  await waitFor(
    "every worker is gone",
    () => t.server.app.runner.stats("python").programs === 0,
  );
  await assertStillServes(t);
});
