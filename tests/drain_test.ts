/**
 * Draining: on SIGTERM the server refuses new executions (`503 shutting_down`) and lets the
 * running ones finish, their tool results included, for up to `--drain-timeout`; then it ends
 * the rest with a terminal frame and exits 0, leaving no sandbox process behind.
 *
 * progtc-test: waits (0.7 s of CPU in 4.3 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { alive, API_KEY, childrenOf, delay, openStream, post, waitFor } from "./_helpers.ts";
import { spawnServer } from "./_process.ts";

Deno.test("SIGTERM drains: a program that finishes within --drain-timeout succeeds, one that does not gets a terminal frame, new executions are refused", async () => {
  await using cli = await spawnServer(["--drain-timeout", "3", "--pool-size", "1"]);
  const called = Promise.withResolvers<void>();
  const finishing = cli.client.executeCode({
    code: `import { slow } from "tools"; console.log(await slow(), "after the signal");`,
    tools: {
      slow: async () => {
        called.resolve();
        // Answered well after SIGTERM, within the drain timeout.
        await delay(1000);
        return "answered";
      },
    },
  });
  await called.promise;
  const spinning = await openStream(cli.url, {
    code: `console.log("spinning"); while (true) {}`,
    tool_names: [],
    stream_output: true,
  });
  assert.deepEqual(await spinning.next(), { type: "stdout", data: "spinning\n" });
  // Both programs run at once, on the pool's host or one more.
  const sandboxes = childrenOf(cli.pid);
  assert.ok(sandboxes.length >= 1, `sandboxes: ${sandboxes}`);

  const signalled = performance.now();
  cli.process.child.kill("SIGTERM");
  await cli.process.waitFor(/SIGTERM: refusing new executions/);
  const refused = await post(`${cli.url}/execute-code`, { code: "1", tool_names: [] }, {
    "x-progtc-api-key": API_KEY,
  });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).code, "shutting_down");
  const ready = await fetch(`${cli.url}/ready`);
  assert.equal(ready.status, 503);
  await ready.body?.cancel();

  assert.deepEqual(await finishing, {
    type: "success",
    stdout: "answered after the signal\n",
    stderr: "",
  });
  assert.ok(performance.now() - signalled < 3000, "the finishing program was not held back");
  assert.deepEqual(await spinning.rest(), [{
    type: "runtime_error",
    stdout: "spinning\n",
    stderr: "Error: the server is shutting down\n",
  }]);
  const ended = (performance.now() - signalled) / 1000;
  assert.ok(ended >= 2.9, `ended after ${ended} s, before the drain timeout`);
  const status = await cli.process.exit(10_000);
  assert.equal(status.code, 0, cli.process.output);
  assert.ok((performance.now() - signalled) / 1000 < 8, "the server exits after the drain");
  assert.match(cli.process.output, /drain timeout: ending 1 executions still running/);
  await waitFor("no sandbox outlives the server", () => !sandboxes.some(alive), 3000);
});

Deno.test("SIGTERM with nothing running exits at once", async () => {
  await using cli = await spawnServer(["--drain-timeout", "20"]);
  const signalled = performance.now();
  cli.process.child.kill("SIGTERM");
  const status = await cli.process.exit(10_000);
  assert.equal(status.code, 0, cli.process.output);
  assert.ok(performance.now() - signalled < 3000);
  assert.match(cli.process.output, /drained: no execution running/);
});
