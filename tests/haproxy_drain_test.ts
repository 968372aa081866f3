/**
 * An instance drained behind a real load balancer: HAProxy with docs/DEPLOY.md's configuration
 * in front of two of our servers. SIGTERM takes an instance out of the rotation (its `/ready`
 * says 503, and HAProxy's next check marks it down) while its executions wait in tool calls:
 * their tool results still reach it (`option persist`; without it, HAProxy sent them to the
 * other instance, which knows no such execution, and every call timed out), they all succeed,
 * and new executions go to the instance left.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { delay, waitFor } from "./_helpers.ts";
import { cookieAffinity, HAPROXY, startHaproxy, startInstance, stopInstances } from "./_haproxy.ts";

const KEY = `lb-key-${crypto.randomUUID()}`;
const N = 8;

Deno.test({
  name: "an instance drained behind HAProxy finishes the executions it runs; new ones go elsewhere",
  ignore: HAPROXY === undefined,
  async fn() {
    // A call not answered fails after 4 s: a result sent to the wrong instance shows in time.
    const flags = ["--pool-size", "1", "--python-pool-size", "0", "--tool-call-timeout", "4"];
    const instances = await Promise.all(
      ["s1", "s2"].map((name) => startInstance(name, flags, { PROGTC_API_KEY: KEY })),
    );
    await using balancer = await startHaproxy(cookieAffinity(instances));
    const client = new ProgtcClient({ baseUrl: balancer.url, apiKey: KEY });
    try {
      await client.waitForServer({ timeoutMs: 10_000 });
      await delay(1000);
      // Every execution waits in its first call until the drained instance is out of rotation.
      const drained = Promise.withResolvers<void>();
      let waiting = 0;
      const runs = Array.from({ length: N }, (_, i) =>
        client.executeCode({
          code: `import { step } from "tools"; console.log(await step(${i}), await step(${
            i + 1
          }));`,
          tools: {
            step: async (x: number) => {
              waiting++;
              await drained.promise;
              return x * 10;
            },
          },
        }));
      await waitFor("every execution in its first call", () => waiting >= N, 10_000);
      const [leaving, staying] = instances;
      leaving!.process.child.kill("SIGTERM");
      // Out of the rotation: HAProxy's checks (every 300 ms) saw its 503.
      await waitFor(
        "the drained instance out of HAProxy's rotation",
        async () => {
          const ready = await fetch(`http://127.0.0.1:${leaving!.port}/ready`).catch(() => null);
          await ready?.body?.cancel();
          return ready?.status === 503;
        },
        5000,
      );
      await delay(1000);
      drained.resolve();
      const results = await Promise.all(runs);
      results.forEach((result, i) =>
        assert.deepEqual(
          result,
          { type: "success", stdout: `${i * 10} ${(i + 1) * 10}\n`, stderr: "" },
          `execution ${i}: ${JSON.stringify(result)}`,
        )
      );
      const served = (instance: typeof leaving) =>
        (instance!.process.output.match(/^execution [0-9a-f]{32} success/gm) ?? []).length;
      assert.ok(served(leaving) > 0, `the drained instance ran none of them`);
      await leaving!.process.exit();
      // New work goes to the instance left.
      const after = await client.executeCode({ code: "console.log(1)", tools: {} });
      assert.deepEqual(after, { type: "success", stdout: "1\n", stderr: "" });
      assert.equal(served(staying) + served(leaving), N + 1);
    } finally {
      await stopInstances(instances);
    }
  },
});
