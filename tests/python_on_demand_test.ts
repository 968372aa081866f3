/**
 * Python on demand: a server with the defaults starts no Python sandbox and builds no snapshot
 * until a Python program comes; a snapshot build reports its progress.
 *
 * @module
 */
import assert from "node:assert/strict";
import { preparePython } from "../runner/python.ts";
import { serve } from "../server/serve.ts";
import { API_KEY, delay, post, readFrames } from "./_helpers.ts";

Deno.test("a server with the default Python options starts no Python sandbox until a Python program", async () => {
  const ready: unknown[] = [];
  await using server = await serve({
    apiKey: API_KEY,
    port: 0,
    poolSize: 1,
    log: () => {},
    onPythonReady: (info) => ready.push(info),
  });
  await server.app.runner.warm();
  await delay(500);
  assert.deepEqual(server.app.runner.pids("python"), []);
  assert.deepEqual(server.app.runner.stats("python"), {
    ready: 0,
    draining: 0,
    starting: 0,
    programs: 0,
    free: 0,
    waiting: 0,
  });
  assert.deepEqual(ready, [], "Python was not prepared");
  const response = await post(`${server.url}/execute-code`, {
    code: "print(6 * 7)",
    tool_names: [],
    language: "python",
  });
  assert.deepEqual(await readFrames(response), [{ type: "success", stdout: "42\n", stderr: "" }]);
  assert.equal(ready.length, 1, "Python was prepared for its first program");
});

Deno.test("preparePython() reports the progress of a snapshot build", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "progtc-snapshot-" });
  try {
    const lines: string[] = [];
    const entry = await preparePython({ cacheDir, onProgress: (line) => lines.push(line) });
    assert.ok(entry.buildMs > 0, "it was built");
    assert.match(lines[0] ?? "", /^Python: building the memory snapshot/);
    const still = lines.slice(1);
    assert.ok(still.every((line) => /^Python: still building the snapshot \(\d+ s\)$/.test(line)));
    // One every 3 s of the build (give or take the last, at the boundary).
    assert.ok(still.length <= Math.floor(entry.buildMs / 3000) + 1, lines.join("\n"));
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
