/**
 * Many instances behind a real load balancer: HAProxy (Debian package `haproxy`, installed by
 * `.ci/run`) with cookie affinity (`cookie SRV insert indirect nocache`) in front of three of
 * our servers sharing a `--state-secret`. Through it, the REAL Python client (streaming and
 * step) and our client run 20 executions each; then one instance is killed mid-load: its
 * executions fail (a client error or a terminal error), the others succeed, and new work goes
 * to the two left. No sandbox outlives its server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { alive, childrenOf, delay, waitFor } from "./_helpers.ts";
import { cookieAffinity, HAPROXY, startHaproxy, startInstance, stopInstances } from "./_haproxy.ts";
import { type ClientReport, runClient } from "./interop/_python.ts";
import { needsPython } from "./interop/venv.ts";

const KEY = `lb-key-${crypto.randomUUID()}`;
const N = 20;

/** One of our servers on port 0, key and state secret from the environment. */
const start = (name: string) =>
  startInstance(name, ["--pool-size", "2"], {
    PROGTC_API_KEY: KEY,
    PROGTC_STATE_SECRET: "shared-state-secret",
  });

/** Programs of our client: `add(i, 1)` twice, each call taking `toolMs`; counts its calls. */
function ours(client: ProgtcClient, toolMs: number, calls = { n: 0 }) {
  return Promise.all(Array.from({ length: N }, async (_, i) => {
    let executionId: string | undefined;
    try {
      const result = await client.executeCode({
        code:
          `import { add } from "tools"; const x = await add(${i}, 1); console.log(x, await add(x, 1));`,
        tools: {
          add: async (a: number, b: number) => {
            calls.n++;
            await delay(toolMs);
            return a + b;
          },
        },
        onToolCall: (call) => executionId = call.execution_id,
      });
      return { i, executionId, result };
    } catch (error) {
      return { i, executionId, error };
    }
  }));
}

function python(
  url: string,
  mode: "stream" | "step",
  toolSeconds = 0,
  markFile?: string,
): Promise<ClientReport> {
  return runClient("0.2.0", "many_client.py", mode, { baseUrl: url, apiKey: KEY }, {
    args: [
      String(N),
      "--tool-seconds",
      String(toolSeconds),
      ...(markFile ? ["--mark-file", markFile] : []),
    ],
    timeoutMs: 90_000,
  });
}

const expected = (i: number) => ({ type: "success", stdout: `${i + 1} ${i + 2}\n`, stderr: "" });

function assertAllCorrect(report: ClientReport, what: string): void {
  assert.deepEqual(
    report.results,
    Array.from({ length: N }, (_, i) => ({ i, result: expected(i) })),
    `${what}: ${JSON.stringify(report.results)}`,
  );
}

Deno.test({
  name:
    "HAProxy with cookie affinity in front of three servers: Python (stream, step) and our client, 20 each, then one instance killed mid-load",
  ignore: HAPROXY === undefined || needsPython.ignore,
  async fn() {
    const instances = await Promise.all(["s1", "s2", "s3"].map(start));
    await using balancer = await startHaproxy(cookieAffinity(instances));
    const url = balancer.url;
    const client = new ProgtcClient({ baseUrl: url, apiKey: KEY });
    const sandboxes = new Set<number>();
    const noteSandboxes = () =>
      instances.forEach((i) => childrenOf(i.pid).forEach((p) => sandboxes.add(p)));
    try {
      await client.waitForServer({ timeoutMs: 10_000 });
      // Every server is up in HAProxy's eyes before the load.
      await delay(1000);

      // ─── all three up: 20 executions each, all correct ───
      const [stream, step, mine] = await Promise.all([
        python(url, "stream"),
        python(url, "step"),
        ours(client, 0),
      ]);
      noteSandboxes();
      assertAllCorrect(stream, "Python stream");
      assertAllCorrect(step, "Python step");
      for (const run of mine) assert.deepEqual(run.result, expected(run.i), JSON.stringify(run));
      const served = instances.map((i) =>
        (i.process.output.match(/^execution [0-9a-f]{32} success/gm) ?? []).length
      );
      assert.ok(
        served.every((n) => n > 0),
        `every instance runs streaming executions: ${served}`,
      );

      // ─── one instance killed mid-load ───
      const killed = instances[1]!;
      const survivors = [instances[0]!, instances[2]!];
      // Every execution waits in its first tool call when the instance dies.
      const marks = `${balancer.dir}/python-calls`;
      const lines = () => {
        try {
          return Deno.readTextFileSync(marks).split("\n").filter(Boolean).length;
        } catch {
          return 0;
        }
      };
      const loadPython = python(url, "stream", 3, marks);
      await waitFor("every Python execution in its first tool call", () => lines() >= N, 20_000);
      const calls = { n: 0 };
      const loadOurs = ours(client, 2000, calls);
      await waitFor("every execution of ours in its first tool call", () => calls.n >= N, 10_000);
      noteSandboxes();
      const orphans = childrenOf(killed.pid);
      killed.process.child.kill("SIGKILL");
      const [underLoad, pythonUnderLoad] = await Promise.all([loadOurs, loadPython]);
      const survivorLog = survivors.map((i) => i.process.output).join("\n");
      let failed = 0;
      for (const run of underLoad) {
        const ranOnSurvivor = run.executionId !== undefined &&
          survivorLog.includes(`execution ${run.executionId} `);
        if (ranOnSurvivor) {
          assert.deepEqual(
            run.result,
            expected(run.i),
            `a survivor's execution: ${JSON.stringify(run)}`,
          );
        } else {
          failed++;
          // Its instance died: the client raised, or the stream ended with an error frame.
          assert.ok(
            run.error !== undefined || run.result?.type !== "success",
            `an execution of the killed instance succeeded: ${JSON.stringify(run)}`,
          );
        }
      }
      assert.ok(failed > 0 && failed < N, `${failed} of ${N} of our executions failed`);
      const pythonResults = pythonUnderLoad.results ?? [];
      assert.equal(pythonResults.length, N);
      const pythonFailed = pythonResults.filter((r) => r.error !== undefined);
      for (const r of pythonResults) {
        if (r.error === undefined) assert.deepEqual(r.result, expected(r.i), JSON.stringify(r));
      }
      assert.ok(
        pythonFailed.length > 0 && pythonFailed.length < N,
        `${pythonFailed.length} of ${N} Python executions failed`,
      );
      // The killed instance's sandboxes end by themselves (they watch their parent).
      await waitFor("the killed instance's sandboxes end", () => !orphans.some(alive), 5000);

      // ─── new work goes to the two left ───
      const [streamAfter, stepAfter, mineAfter] = await Promise.all([
        python(url, "stream"),
        python(url, "step"),
        ours(client, 0),
      ]);
      assertAllCorrect(streamAfter, "Python stream after the kill");
      assertAllCorrect(stepAfter, "Python step after the kill");
      for (const run of mineAfter) {
        assert.deepEqual(run.result, expected(run.i), JSON.stringify(run));
      }
      noteSandboxes();
    } finally {
      await stopInstances(instances);
    }
    await waitFor("no sandbox outlives its server", () => ![...sandboxes].some(alive), 5000);
  },
});
