/**
 * Configuration: every flag of `progtc serve` also from `PROGTC_<FLAG>`, flags winning; the
 * settings summary at start; the warning for a key on the command line, and a `deno task
 * serve` whose output never shows a key given through the environment.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { parseServeArgs, UsageError } from "../cli.ts";
import { settingsSummary } from "../server/config.ts";
import { type Machine, thisMachine } from "../server/machine.ts";
import { optionDeclarations } from "../server/option_docs.ts";
import { OPTION_KEYS, specOf } from "../server/option_table.ts";
import { OptionError, resolveOptions } from "../server/options.ts";
import { DenoProcess, freePort } from "./_process.ts";

Deno.test("parseServeArgs() reads every flag missing from the command line from PROGTC_<FLAG>", () => {
  const { options, keySource, fromEnv, warnings } = parseServeArgs(["--port", "9000"], {
    PROGTC_PORT: "1234",
    PROGTC_API_KEY: "env-key",
    PROGTC_CODE_EXECUTION_TIMEOUT: "5",
    PROGTC_MAX_CONCURRENT: "3",
    PROGTC_LOG_FORMAT: "json",
    PROGTC_DRAIN_TIMEOUT: "7",
    PROGTC_CORS_ORIGIN: "https://a.example, https://b.example",
    PROGTC_STATE_SECRET: "shared",
    PROGTC_SANDBOX_DENO: "/opt/deno",
    PROGTC_QUEUE_TIMEOUT: "2",
    PROGTC_UNRELATED: "x",
  });
  assert.equal(options.port, 9000, "the flag wins");
  assert.equal(options.apiKey, "env-key");
  assert.equal(keySource, "environment");
  assert.equal(options.codeExecutionTimeoutMs, 5000);
  assert.equal(options.maxConcurrent, 3);
  assert.equal(options.logFormat, "json");
  assert.equal(options.drainTimeoutMs, 7000);
  assert.deepEqual(options.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(options.stateSecret, "shared");
  assert.equal(options.denoPath, "/opt/deno");
  assert.equal(options.queueTimeoutMs, 2000, "seconds on the command line, milliseconds in code");
  assert.deepEqual(warnings, []);
  assert.ok(!fromEnv.includes("port"));
  assert.ok(fromEnv.includes("code-execution-timeout"));
});

Deno.test("parseServeArgs() warns about a key or secret on the command line", () => {
  const { warnings, keySource } = parseServeArgs(
    ["--api-key", "k", "--state-secret", "s"],
    { PROGTC_API_KEY: "env" },
  );
  assert.equal(keySource, "command line");
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /--api-key was given on the command line.*PROGTC_API_KEY/);
  assert.match(warnings[1]!, /--state-secret .*PROGTC_STATE_SECRET/);
});

Deno.test("parseServeArgs() refuses a bad value from the environment like a bad flag, naming the variable", () => {
  assert.throws(
    () => parseServeArgs([], { PROGTC_PORT: "http" }),
    UsageError,
    "PROGTC_PORT=http: ",
  );
  assert.throws(() => parseServeArgs([], { PROGTC_LOG_FORMAT: "xml" }), UsageError);
  assert.throws(() => parseServeArgs([], { PROGTC_CORS_ORIGIN: "https://a.example/path" }), {
    name: "UsageError",
  });
});

Deno.test("a duration's bound is the longest timer, 2^31-1 ms: that much is taken, a millisecond more is not", () => {
  const { options } = parseServeArgs(["--tool-call-timeout", "2147483.647"], {});
  assert.equal(options.toolCallTimeoutMs, 2 ** 31 - 1);
  assert.throws(
    () => parseServeArgs(["--tool-call-timeout", "2147483.648"], {}),
    UsageError,
    "--tool-call-timeout 2147483.648: expected seconds from 0.001 to 2147483.647",
  );
  const values = parseServeArgs(["--queue-timeout", "0", "--warm-resume-ttl=0.25"], {}).options;
  assert.equal(values.queueTimeoutMs, 0);
  assert.equal(values.warmResumeTtlMs, 250);
});

Deno.test("resolveOptions() refuses a value out of bounds from code with an OptionError naming the option in its units", () => {
  const thirtyDays = 30 * 86_400_000;
  assert.throws(() => resolveOptions({ apiKey: "k", toolCallTimeoutMs: thirtyDays }), (error) => {
    assert.ok(error instanceof OptionError);
    assert.equal(error.key, "toolCallTimeoutMs");
    assert.match(
      error.message,
      /toolCallTimeoutMs = 2592000000: expected milliseconds from 1 to 2147483647/,
    );
    return true;
  });
  assert.throws(() => resolveOptions({ apiKey: "" }), OptionError, "apiKey");
  assert.throws(
    () => resolveOptions({} as { apiKey: string }),
    OptionError,
    "an API key is required",
  );
  assert.throws(() => resolveOptions({ apiKey: "k", port: 1.5 }), OptionError, "port = 1.5");
  assert.throws(
    () => resolveOptions({ apiKey: "k", memoryBudgetMb: 8 }),
    OptionError,
    "memoryBudgetMb",
  );
});

Deno.test("resolveOptions() fills in every option from the table; computed defaults come from the machine and the options before them", () => {
  const machine: Machine = {
    ...thisMachine,
    availableMemoryBytes: () => 6 * 2 ** 30,
    maxOpenFiles: () => 1000,
    denoPath: () => "/opt/deno",
  };
  const config = resolveOptions({ apiKey: "k", maxConcurrent: 10 }, machine);
  for (const key of OPTION_KEYS) {
    const fallback = specOf(key).default;
    if (key !== "maxConcurrent" && (typeof fallback !== "object" || Array.isArray(fallback))) {
      assert.deepEqual(config[key], fallback, key);
    }
  }
  assert.equal(config.memoryBudgetMb, 3072, "half the memory available");
  assert.equal(config.maxConnections, 468, "half the file descriptors, less 32");
  assert.equal(config.denoPath, "/opt/deno");
  assert.equal(
    config.maxHosts,
    Math.ceil(
      (10 + config.maxPaused + config.maxSessions) /
        Math.min(config.hostMaxPrograms, config.pythonHostMaxPrograms),
    ) +
      2,
    "enough for max-concurrent + max-paused + max-sessions, and two more",
  );
  assert.equal(config.stateSecret, "k", "derived from the API key");
  assert.equal(config.pythonPoolSize, undefined, "on first use");
  assert.equal(config.toolCallTimeoutMs, 10_000);
});

Deno.test("the settings line shows the table's summary options in the command line's units", () => {
  const line = settingsSummary(
    { apiKey: "k-secret", port: 9000, codeExecutionTimeoutMs: 1500, stateSecret: "s-secret" },
    "environment",
  );
  assert.match(line, /^settings: host=127\.0\.0\.1 port=9000 api-key=from_the_environment /);
  assert.match(line, / code-execution-timeout=1\.5s /);
  assert.match(line, / tool-call-timeout=10s /);
  assert.match(line, / python-pool-size=on_first_use /);
  assert.match(line, / state-secret=set$/);
  assert.ok(!line.includes("k-secret") && !line.includes("s-secret"), line);
});

Deno.test("server/option_types.ts is generated from the table (`deno task options`)", async () => {
  const file = await Deno.readTextFile(new URL("../server/option_types.ts", import.meta.url));
  assert.equal(file, optionDeclarations(), "run `deno task options`");
});

Deno.test("`PROGTC_API_KEY=… PROGTC_PORT=… PROGTC_CODE_EXECUTION_TIMEOUT=1 deno task serve`: applied, summarised, the key never printed", async () => {
  const port = freePort();
  const key = `env-key-${crypto.randomUUID()}`;
  await using serve = new DenoProcess(["task", "serve"], {
    ...Deno.env.toObject(),
    PROGTC_API_KEY: key,
    PROGTC_PORT: String(port),
    PROGTC_CODE_EXECUTION_TIMEOUT: "1",
  });
  const client = new ProgtcClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key });
  await client.waitForServer({ timeoutMs: 30_000 });
  const started = performance.now();
  const result = await client.executeCode({ code: "while (true) {}", tools: {} });
  assert.equal(result.type, "timeout_error");
  assert.ok(performance.now() - started < 5000, "the 1 s timeout from the environment applied");
  const [summary] = await serve.waitFor(/^settings: .*$/m);
  assert.match(summary, new RegExp(`port=${port} `));
  assert.match(summary, /code-execution-timeout=1s /);
  assert.match(summary, /api-key=from_the_environment/);
  serve.child.kill("SIGTERM");
  assert.equal((await serve.exit()).code, 0, serve.output);
  assert.ok(!serve.output.includes(key), `the key was printed:\n${serve.output}`);
  assert.doesNotMatch(serve.output, /given on the command line/);
});

Deno.test("`cli.ts serve --api-key …` warns that the key is on the command line", async () => {
  const port = freePort();
  await using serve = new DenoProcess(
    ["run", "-A", "cli.ts", "serve", "--port", String(port), "--api-key", "cli-key"],
  );
  await serve.waitFor(/--api-key was given on the command line[^\n]*PROGTC_API_KEY/);
  await serve.waitFor(/listening on/);
  serve.child.kill("SIGTERM");
  assert.equal((await serve.exit()).code, 0, serve.output);
});
