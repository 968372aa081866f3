/**
 * Interop, Python programs: the REAL Python client of progtc 0.1.17 and 0.2.0 runs the reference
 * README's Python examples UNCHANGED (`interop/readme_client.py`) against our server started as
 * `progtc serve --language python` (Pyodide sandboxes), on port 0. Each test runs both versions
 * at once and checks the result and what the README's own code printed, exactly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, sharedServerTests, type TestServer } from "../_helpers.ts";
import { type ClientReport, runClient } from "./_python.ts";
import { assertWireIds, batches, forEachVersion, resultOf, STEP_MODES } from "./_report.ts";
import type { ReferenceVersion } from "./venv.ts";
import { needsPython } from "./venv.ts";

/**
 * A server whose default language is Python, as `progtc serve --language python`, with one
 * warm Python sandbox: the second client version waits for a spawn (a bigger pool refilling at
 * once is slower on two cores). The scenarios share one server per step mode: each Python host
 * costs seconds of CPU to start.
 */
function pythonServer(name: string, options: { warmResumeTtlMs?: number } = {}) {
  return sharedServerTests(
    name,
    { language: "python", poolSize: 0, pythonPoolSize: 1, ...options },
    needsPython,
  );
}
const onServer = pythonServer("python: the README's scenarios, on one server");

/** The log lines `t` wrote while `fn` ran. */
async function logsOf(t: TestServer, fn: () => Promise<void>): Promise<string[]> {
  const from = t.logs.length;
  await fn();
  return t.logs.slice(from);
}

function readme(
  t: TestServer,
  version: ReferenceVersion,
  scenario: string,
): Promise<ClientReport> {
  return runClient(version, "readme_client.py", scenario, { baseUrl: t.url, apiKey: API_KEY });
}

const LONDON = "Weather in London, UK: Sunny, 22°C";
const TOKYO_AND_HOTELS = "Weather: Weather in Tokyo, Japan: Sunny, 22°C\n" +
  "Results: [{'id': 1, 'name': 'Result'}]\n";
const RUNTIME_ERROR = {
  type: "runtime_error",
  stdout: `${LONDON}\n`,
  stderr: [
    "Traceback (most recent call last):",
    `  File "<code>", line 5, in <module>`,
    `    raise ValueError(f"no umbrella needed: {weather}")`,
    `ValueError: no umbrella needed: ${LONDON}`,
    "",
  ].join("\n"),
};

/** Runs one README scenario and checks the result, its class and what the README printed. */
async function assertReadme(
  t: TestServer,
  version: ReferenceVersion,
  scenario: string,
  expected: { result: Record<string, unknown>; resultClass: string; printed: string },
): Promise<ClientReport> {
  const report = await readme(t, version, scenario);
  assert.deepEqual(resultOf(report, version), expected.result, scenario);
  assert.equal(report.result_class, expected.resultClass, scenario);
  assert.equal(report.printed, expected.printed, scenario);
  return report;
}

onServer(
  "python: the README quick start runs unchanged and prints what its comments say",
  async (t) => {
    const logs = await logsOf(t, () =>
      forEachVersion(async (version) => {
        const stdout = `The weather is: ${LONDON}\n`;
        await assertReadme(t, version, "quick_start", {
          result: { type: "success", stdout, stderr: "" },
          resultClass: "ExecuteCodeSuccess",
          // print(result.stdout); print(result.stderr)
          printed: `${stdout}\n\n`,
        });
      }));
    assert.equal(logs.length, 2, logs.join("\n"));
    for (const line of logs) {
      assert.match(line, /success \(success\) .*, 1 tool calls, sandbox \d+ run \d+$/);
    }
  },
);

onServer(
  "python: the README's code guidelines (await a tool, print variables) run unchanged",
  async (t) => {
    await forEachVersion(async (version) => {
      // Each result goes through the README's `match result.type` error handling.
      await assertReadme(t, version, "await_tool", {
        result: { type: "success", stdout: "", stderr: "" },
        resultClass: "ExecuteCodeSuccess",
        printed: "Stdout: \n",
      });
      await assertReadme(t, version, "print_variables", {
        result: { type: "success", stdout: "Oslo: max 5°C\n", stderr: "" },
        resultClass: "ExecuteCodeSuccess",
        printed: "Stdout: Oslo: max 5°C\n\n",
      });
    });
  },
);

onServer(
  "python: the README's asyncio.gather of two tools runs unchanged",
  async (t) => {
    const logs = await logsOf(t, () =>
      forEachVersion(async (version) => {
        await assertReadme(t, version, "gather", {
          result: { type: "success", stdout: TOKYO_AND_HOTELS, stderr: "" },
          resultClass: "ExecuteCodeSuccess",
          printed: `Stdout: ${TOKYO_AND_HOTELS}\n`,
        });
      }));
    assert.equal(logs.length, 2, logs.join("\n"));
    for (const line of logs) {
      assert.match(line, /success \(success\) .*, 2 tool calls, sandbox \d+ run \d+$/);
    }
  },
);

onServer(
  "python: a program that does not parse is a CodeSyntaxError naming its line",
  async (t) => {
    await forEachVersion(async (version) => {
      const stderr = [
        `  File "<code>", line 3`,
        `    weather = await get_weather("London", "UK"`,
        `                               ^`,
        "SyntaxError: '(' was never closed",
        "",
      ].join("\n");
      await assertReadme(t, version, "syntax_error", {
        result: { type: "syntax_error", stdout: "", stderr },
        resultClass: "CodeSyntaxError",
        printed: `Syntax error: ${stderr}\n`,
      });
    });
  },
);

onServer(
  "python: a program that raises after a tool call is a CodeRuntimeError with its output",
  async (t) => {
    await forEachVersion(async (version) => {
      await assertReadme(t, version, "runtime_error", {
        result: RUNTIME_ERROR,
        resultClass: "CodeRuntimeError",
        printed: `Runtime error: ${RUNTIME_ERROR.stderr}\n`,
      });
    });
  },
);

onServer(
  "python: the README's client modules example runs unchanged (progtc 0.2.0)",
  async (t) => {
    await forEachVersion(async (version) => {
      await assertReadme(t, version, "client_modules", {
        result: { type: "success", stdout: "WEATHER IN TOKYO: SUNNY\n", stderr: "" },
        resultClass: "ExecuteCodeSuccess",
        printed: "Stdout: WEATHER IN TOKYO: SUNNY\n\n",
      });
    }, ["0.2.0"]);
  },
);

/** The step API's scenarios, on one server per step mode. */
const onStepServer = Object.fromEntries(
  STEP_MODES.map(([mode, options]) => [
    mode,
    pythonServer(`python: the README's step loops (${mode}), on one server`, options),
  ]),
);

for (const [mode] of STEP_MODES) {
  onStepServer[mode]!(`python: the README step loop runs unchanged (${mode})`, async (t) => {
    await forEachVersion(async (version) => {
      const report = await assertReadme(t, version, "step_loop", {
        result: { type: "success", stdout: `${LONDON}\n`, stderr: "" },
        resultClass: "ExecuteCodeSuccess",
        // print(result.stdout)  # "Weather in London, UK: Sunny, 22°C"
        printed: `${LONDON}\n\n`,
      });
      assert.deepEqual(batches(report), [[["get_weather", ["London", "UK"]]]]);
      for (const call of report.steps![0]!.tool_calls) assertWireIds(call);
    });
  });

  onStepServer[mode]!(
    `python: the README step loop batches an asyncio.gather into one step (${mode})`,
    async (t) => {
      await forEachVersion(async (version) => {
        const report = await assertReadme(t, version, "step_gather", {
          result: { type: "success", stdout: TOKYO_AND_HOTELS, stderr: "" },
          resultClass: "ExecuteCodeSuccess",
          printed: `${TOKYO_AND_HOTELS}\n`,
        });
        assert.deepEqual(batches(report), [[
          ["get_weather", ["Tokyo", "Japan"]],
          ["search_database", ["hotels"]],
        ]]);
      });
    },
  );
}

onStepServer["replay"]!(
  "python: the README step loop ends with the runtime error and the output printed once",
  async (t) => {
    await forEachVersion(async (version) => {
      const report = await assertReadme(t, version, "step_runtime_error", {
        result: RUNTIME_ERROR,
        resultClass: "CodeRuntimeError",
        printed: `${RUNTIME_ERROR.stdout}\n`,
      });
      assert.deepEqual(batches(report), [[["get_weather", ["London", "UK"]]]]);
    });
  },
);
