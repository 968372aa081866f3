/**
 * Sandboxes that cannot start: a runtime binary gone after the server started gets every
 * execution 503 sandbox_unavailable (its path never reaches the client), the pool retries
 * with a back-off and leaves no process behind, and refills by itself once the binary is back.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { serve } from "../../server/serve.ts";
import { API_KEY, delay, post, readFrames, waitFor } from "../_helpers.ts";
import { liveChildren } from "./_faults.ts";

/**
 * A runtime binary that disappears once the server has checked it: it answers the check at start
 * (`--version`) and deletes itself, so every sandbox spawn after that finds no binary. (A binary
 * missing at start is refused then: cli_test.ts.)
 */
async function vanishingDeno(path: string): Promise<void> {
  await Deno.writeTextFile(
    path,
    '#!/bin/sh\nif [ "$1" = --version ]; then echo "deno 2.9.6 (vanishing)"; rm -f -- "$0"; exit 0; fi\n' +
      "exit 1\n",
    { mode: 0o755 },
  );
}

for (const prlimitPath of [undefined, null]) {
  const how = prlimitPath === null ? "spawned directly" : "behind prlimit";
  Deno.test(`a runtime binary gone after start (${how}) gets 503 sandbox_unavailable, and the pool backs off`, async () => {
    const spawnErrors: number[] = [];
    const logs: string[] = [];
    const dir = await Deno.makeTempDir({ prefix: "progtc-faults-" });
    const denoPath = `${dir}/deno`;
    await vanishingDeno(denoPath);
    const started = Date.now();
    await using server = await serve({
      apiKey: API_KEY,
      port: 0,
      poolSize: 1,
      pythonPoolSize: 0,
      denoPath,
      ...(prlimitPath === null ? { prlimitPath } : {}),
      onSpawnError: () => spawnErrors.push(Date.now() - started),
      log: (line) => logs.push(line),
    });
    await delay(1000);
    const inOneSecond = spawnErrors.length;
    ok(inOneSecond >= 2, `the pool stopped retrying: ${inOneSecond} attempts`);
    ok(inOneSecond <= 6, `the pool retries in a busy loop: ${inOneSecond} attempts in 1 s`);

    for (const path of ["/execute-code", "/execute-code-step"]) {
      const response = await post(`${server.url}${path}`, { code: "1", tool_names: [] });
      strictEqual(response.status, 503, path);
      strictEqual(response.headers.get("content-type"), "application/problem+json");
      strictEqual(response.headers.get("retry-after"), "1");
      const text = await response.text();
      ok(!text.includes(dir), `the binary's path reached the client: ${text}`);
      const body = JSON.parse(text);
      strictEqual(body.code, "sandbox_unavailable");
      strictEqual(body.status, 503);
    }
    // One line for each sandbox that did not start, one for each refused request.
    const unavailable = logs.filter((line) => line.startsWith("sandbox unavailable"));
    strictEqual(unavailable.length, 2, logs.join("\n"));
    for (const line of unavailable) match(line, /^sandbox unavailable: Sandbox did not start: /);
    deepStrictEqual(logs.filter((line) => !unavailable.includes(line)), [
      "refused POST /execute-code: 503 sandbox_unavailable",
      "refused POST /execute-code-step: 503 sandbox_unavailable",
    ]);
    strictEqual((await fetch(`${server.url}/ping`)).status, 200);
    strictEqual(server.app.running, 0);
    // Each failed start leaves nothing behind.
    await waitFor("no sandbox process is left", async () => (await liveChildren()).length === 0);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("when the runtime binary comes back, the pool refills by itself and executions run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "progtc-faults-" });
  try {
    const denoPath = `${dir}/deno`;
    await vanishingDeno(denoPath);
    let spawnErrors = 0;
    await using server = await serve({
      apiKey: API_KEY,
      port: 0,
      poolSize: 1,
      pythonPoolSize: 0,
      denoPath,
      onSpawnError: () => spawnErrors++,
      log: () => {},
    });
    await waitFor("a spawn fails", () => spawnErrors > 0);
    await Deno.symlink(Deno.execPath(), denoPath);
    // Failed spawns back off up to 5 s.
    await waitFor("the pool refills", () => server.app.runner.stats("deno").ready === 1, 8000);
    const frames = await readFrames(
      await post(`${server.url}/execute-code`, { code: `console.log("back")`, tool_names: [] }),
    );
    deepStrictEqual(frames, [{ type: "success", stdout: "back\n", stderr: "" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
