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
  assert.equal(options.codeExecutionTimeout, 5);
  assert.equal(options.maxConcurrent, 3);
  assert.equal(options.logFormat, "json");
  assert.equal(options.drainTimeout, 7);
  assert.deepEqual(options.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(options.stateSecret, "shared");
  assert.equal(options.denoPath, "/opt/deno");
  assert.equal(options.queueTimeoutMs, 2000);
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

Deno.test("parseServeArgs() refuses a bad value from the environment like a bad flag", () => {
  assert.throws(() => parseServeArgs([], { PROGTC_PORT: "http" }), UsageError);
  assert.throws(() => parseServeArgs([], { PROGTC_LOG_FORMAT: "xml" }), UsageError);
  assert.throws(() => parseServeArgs([], { PROGTC_CORS_ORIGIN: "https://a.example/path" }), {
    name: "UsageError",
  });
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
