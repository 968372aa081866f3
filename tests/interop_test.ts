/**
 * Interop: the REAL Python client of progtc 0.1.17 and 0.2.0 (from PyPI, in `.venv/`, created on
 * demand) against our server on port 0. Each test runs both versions at once; the programs are
 * TypeScript, the tools are the reference README's async Python functions. The README's own
 * Python examples against `--language python` are in `interop/python_readme_test.ts`; the step
 * API's, in `interop_step_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, startServer, type TestServer } from "./_helpers.ts";
import { type ClientReport, runClient, type RunClientOptions } from "./interop/_python.ts";
import { assertWireIds, forEachVersion, resultOf } from "./interop/_report.ts";
import type { ReferenceVersion } from "./interop/venv.ts";
import { needsPython } from "./interop/venv.ts";

function stream(
  t: TestServer,
  version: ReferenceVersion,
  scenario: string,
  options: RunClientOptions & { apiKey?: string } = {},
): Promise<ClientReport> {
  return runClient(version, "stream_client.py", scenario, {
    baseUrl: t.url,
    apiKey: options.apiKey ?? API_KEY,
  }, options);
}

/** The tool calls the Python client received, as its pydantic models dumped them. */
function receivedCalls(report: ClientReport): Record<string, unknown>[] {
  return (report.events ?? []).filter((e) => e.kind === "tool_call_received").map((e) =>
    e.tool_call!
  );
}

function kinds(report: ClientReport): string[] {
  return (report.events ?? []).map((e) => e.tool ? `${e.kind}:${e.tool}` : e.kind);
}

// ─── POST /execute-code with AsyncProgtcClient.execute_code ─────────────────────────────────

Deno.test(
  "the Python client runs the README quick start (one tool call)",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "single");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: "The weather is: Weather in London, UK: Sunny, 22°C\n",
        stderr: "",
      });
      assert.equal(report.result_class, "ExecuteCodeSuccess");
      const [call, ...more] = receivedCalls(report);
      assert.equal(more.length, 0);
      assertWireIds(call!);
      assert.equal(call!.tool_name, "get_weather");
      assert.deepEqual(call!.args, ["London", "UK"]);
      assert.deepEqual(call!.kwargs, {});
      assert.deepEqual(kinds(report), [
        "tool_call_received",
        "tool_start:get_weather",
        "tool_end:get_weather",
        "tool_call_completed",
        "tool_call_sent",
      ]);
    });
  },
);

Deno.test(
  "the Python client runs a Promise.all of two tools concurrently",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "gather");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout:
          'Weather: Weather in Tokyo, Japan: Sunny, 22°C\nResults: [{"id":1,"name":"Result"}]\n',
        stderr: "",
      });
      const calls = receivedCalls(report);
      assert.deepEqual(calls.map((c) => c.tool_name).sort(), ["get_weather", "search_database"]);
      for (const call of calls) assertWireIds(call);
      assert.notEqual(calls[0]!.id, calls[1]!.id);
      assert.equal(calls[0]!.execution_id, calls[1]!.execution_id);
      // Both calls reached the client before either tool finished: they were outstanding at once.
      const seen = kinds(report);
      const secondReceived = seen.lastIndexOf("tool_call_received");
      const firstEnded = seen.findIndex((k) => k.startsWith("tool_end"));
      assert.ok(secondReceived < firstEnded, `calls were not concurrent: ${seen.join(", ")}`);
    });
  },
);

Deno.test(
  "JSON values round-trip through the Python client's tools, None included",
  needsPython,
  async () => {
    await using t = await startServer();
    const values = [null, true, 0, -1.5, 9007199254740991, 'ü 😀 \u0000 "q"', [1, { a: null }], {}];
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "json_values");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: JSON.stringify(values) + "\n",
        stderr: "",
      });
      assert.deepEqual(receivedCalls(report).map((call) => call.args), values.map((v) => [v]));
    });
  },
);

Deno.test(
  "the Python client gets syntax_error for a program that does not parse",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "syntax_error");
      const result = resultOf(report, version);
      assert.equal(result.type, "syntax_error");
      assert.equal(report.result_class, "CodeSyntaxError");
      assert.equal(result.stdout, "");
      assert.match(String(result.stderr), /^SyntaxError: /);
      assert.match(String(result.stderr), /:3:\d+/, "the error names the line in the program");
      assert.deepEqual(receivedCalls(report), []);
    });
  },
);

Deno.test(
  "the Python client gets runtime_error with the output printed before the throw",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "runtime_error");
      const result = resultOf(report, version);
      assert.equal(result.type, "runtime_error");
      assert.equal(report.result_class, "CodeRuntimeError");
      assert.equal(result.stdout, "Weather in London, UK: Sunny, 22°C\n");
      assert.match(String(result.stderr), /^Error: boom after the tool call\n/);
      assert.match(String(result.stderr), /:5:\d+/, "the stack names the line in the program");
    });
  },
);

Deno.test(
  "keepalives hold the Python client's stream open through a 7 s tool (5 s read timeout)",
  needsPython,
  async () => {
    await using t = await startServer({ toolCallTimeoutMs: 20_000 });
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "long_tool");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: "slept 7 s\n",
        stderr: "",
      });
      const started = report.events!.find((e) => e.kind === "tool_start")!;
      const ended = report.events!.find((e) => e.kind === "tool_end")!;
      assert.ok(ended.t - started.t >= 7, "the tool ran for 7 s");
    });
  },
);

Deno.test(
  "the Python client receives 200 KiB of output around a tool call without a deadlock",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "big_output");
      const line = "x".repeat(99) + "\n";
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: line.repeat(2048) + "Weather in Oslo, Norway: Sunny, 22°C\n",
        stderr: "",
      });
    });
  },
);

Deno.test(
  "the Python client still gets the result when its tools answer after the tool-call timeout",
  needsPython,
  async () => {
    // The Python client raise_for_status()es every /tool-results answer (3 tries) and waits for
    // its tool tasks before it returns, so a late result refused with 409 fails the whole
    // execute_code. The reference answers 200 to both late results here: one reaches a running
    // execution whose call timed out, the other an execution that has ended.
    await using t = await startServer({ toolCallTimeoutMs: 1000 });
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "late_result");
      assert.deepEqual(resultOf(report, version), {
        type: "success",
        stdout: "TimeoutError TimeoutError\nafter\n",
        stderr: "",
      });
    });
  },
);

Deno.test(
  "the Python client raises on a wrong API key, as with the reference server",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      const report = await stream(t, version, "single", { apiKey: "not-the-key" });
      assert.equal(report.result, undefined);
      // httpx-sse refuses the non-SSE 401 before the client looks at the status, as it refuses
      // the reference's JSON 401.
      assert.equal(report.error?.type, "SSEError", JSON.stringify(report.error));
      assert.deepEqual(receivedCalls(report), []);
    });
  },
);
