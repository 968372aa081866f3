/**
 * Interop on the step API: the REAL Python client of progtc 0.1.17 and 0.2.0 (from PyPI, in
 * `.venv/`) runs `AsyncProgtcClient.execute_code_step` loops against our server on port 0, in
 * every step mode; each test runs both versions at once. Streaming: `interop_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, startServer, type TestServer } from "./_helpers.ts";
import { type ClientReport, runClient, type RunClientOptions } from "./interop/_python.ts";
import { assertWireIds, batches, forEachVersion, resultOf, STEP_MODES } from "./interop/_report.ts";
import type { ReferenceVersion } from "./interop/venv.ts";
import { needsPython } from "./interop/venv.ts";

function step(
  t: TestServer,
  version: ReferenceVersion,
  scenario: string,
  options: RunClientOptions = {},
): Promise<ClientReport> {
  return runClient(
    version,
    "step_client.py",
    scenario,
    { baseUrl: t.url, apiKey: API_KEY },
    options,
  );
}

// ─── POST /execute-code-step with AsyncProgtcClient.execute_code_step ───────────────────────

for (const [mode, serverOptions] of STEP_MODES) {
  Deno.test(`the Python client runs the README step loop (${mode})`, needsPython, async () => {
    await using t = await startServer(serverOptions);
    await forEachVersion(async (version) => {
      const report = await step(t, version, "readme");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: "Weather in London, UK: Sunny, 22°C\n",
        stderr: "",
      });
      assert.deepEqual(batches(report), [[["get_weather", ["London", "UK"]]]]);
    });
  });

  Deno.test(
    `the step loop takes 3 steps for two sequential calls then a Promise.all of two (${mode})`,
    needsPython,
    async () => {
      await using t = await startServer(serverOptions);
      await forEachVersion(async (version) => {
        const report = await step(t, version, "sequential_then_all");
        assert.deepEqual(resultOf(report, version), {
          type: "success",
          stdout: "start\n" +
            "Weather in London, UK: Sunny, 22°C\n" +
            "Weather in Paris, France: Sunny, 22°C\n" +
            '[{"id":1,"name":"Result for hotels"}] [{"id":1,"name":"Result for museums"}]\n',
          stderr: "",
        });
        assert.equal(report.result_class, "ExecuteCodeSuccess");
        assert.deepEqual(batches(report), [
          [["get_weather", ["London", "UK"]]],
          [["get_weather", ["Paris", "France"]]],
          [["search_database", ["hotels"]], ["search_database", ["museums"]]],
        ]);
        const calls = report.steps!.flatMap((s) => s.tool_calls);
        for (const call of calls) {
          assertWireIds(call);
          assert.deepEqual(call.kwargs, {});
        }
        for (const s of report.steps!) assert.ok(s.state_chars > 0, "every batch carries a state");
        if (version === "0.2.0") {
          // 0.2.0 keys calls by (frame_id, call_index): no two calls of one run share a key.
          const keys = calls.map((c) => `${(c.frame_id as number[]).join(".")}#${c.call_index}`);
          assert.equal(new Set(keys).size, keys.length, `call keys repeat: ${keys.join(", ")}`);
        }
      });
    },
  );

  Deno.test(
    `the step endpoint accepts progtc 0.2.0's determinism="order_only" (${mode})`,
    needsPython,
    async () => {
      await using t = await startServer(serverOptions);
      await forEachVersion(async (version) => {
        const report = await step(t, version, "random_args", {
          args: ["--determinism", "order_only"],
        });
        assert.deepEqual(resultOf(report, version), {
          type: "success",
          stdout: "true true\n",
          stderr: "",
        });
        assert.deepEqual(
          batches(report).map((batch) => batch.map(([name, args]) => [name, args[1]])),
          [[["get_weather", "UK"]], [["get_weather", "France"]]],
        );
      }, ["0.2.0"]);
    },
  );
}

Deno.test(
  "the Python client gets determinism_error when a replayed call changes",
  needsPython,
  async () => {
    await using t = await startServer({ warmResumeTtlMs: 0 });
    await forEachVersion(async (version) => {
      const report = await step(t, version, "random_args");
      const result = resultOf(report, version);
      assert.equal(result.type, "determinism_error");
      assert.equal(report.result_class, "CodeDeterminismError");
      assert.equal(result.stdout, "");
      assert.match(String(result.stderr), /DeterminismError/);
      assert.equal(report.steps!.length, 1, "the first step ran; the replay of the second failed");
    });
  },
);
