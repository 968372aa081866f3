/**
 * The command line as a user runs it: `deno task serve ...` in a subprocess.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import denoJson from "../deno.json" with { type: "json" };
import { OPTION_KEYS, specOf } from "../server/option_table.ts";
import { cleanEnv, DenoProcess, type Finished, freePort, runDeno } from "./_process.ts";

const ADD = {
  code: `import { add } from "tools"; console.log(await add(1, 2));`,
  tools: { add: (a: number, b: number) => a + b },
};

/** The environment of this process without `PROGTC_API_KEY`. */
function envWithoutKey(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.PROGTC_API_KEY;
  return env;
}

/** `deno task serve <args>`. */
function serveTask(args: string[], env?: Record<string, string>): DenoProcess {
  return new DenoProcess(["task", "serve", ...args], env);
}

Deno.test("`deno task serve --host --port --api-key` serves executions and exits 0 on SIGTERM", async () => {
  const port = freePort();
  await using serve = serveTask(["--host", "127.0.0.1", "--port", String(port), "--api-key", "k1"]);
  const client = new ProgtcClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k1" });
  await client.waitForServer({ timeoutMs: 30_000 });
  assert.match(serve.output, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`));
  assert.deepEqual(await client.executeCode(ADD), { type: "success", stdout: "3\n", stderr: "" });

  serve.child.kill("SIGTERM");
  const status = await serve.exit();
  assert.equal(status.timedOut, false, `did not stop on SIGTERM:\n${serve.output}`);
  assert.equal(status.code, 0, serve.output);
  assert.equal(await client.ping({ timeoutMs: 1000 }), false, "the port is closed");
});

Deno.test("`deno task serve` without a key prints a generated key once, and that key works", async () => {
  const port = freePort();
  await using serve = serveTask(["--host", "127.0.0.1", "--port", String(port)], envWithoutKey());
  const [, key] = await serve.waitFor(/generated[^\n]*:[ \t]*(\S+)[ \t]*\n/);
  assert.ok(key!.length >= 32, `the generated key is too short to be secret: ${key}`);
  const baseUrl = `http://127.0.0.1:${port}`;
  const client = new ProgtcClient({ baseUrl, apiKey: key! });
  await client.waitForServer({ timeoutMs: 30_000 });
  assert.deepEqual(await client.executeCode(ADD), { type: "success", stdout: "3\n", stderr: "" });
  const refused = await fetch(`${baseUrl}/execute-code`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": "not-the-key" },
    body: JSON.stringify({ code: "1", tool_names: [] }),
  });
  await refused.body?.cancel();
  assert.equal(refused.status, 401);

  serve.child.kill("SIGTERM");
  const status = await serve.exit();
  assert.equal(status.code, 0, serve.output);
  assert.equal(serve.output.split(key!).length - 1, 1, `the key is printed once:\n${serve.output}`);
});

for (
  const [name, args] of [
    ["`deno task serve --help`", ["task", "serve", "--help"]],
    ["`cli.ts --help`", ["run", "cli.ts", "--help"]],
  ] as const
) {
  Deno.test(`${name} prints the usage and exits 0`, async () => {
    await using cli = new DenoProcess([...args]);
    const status = await cli.exit(20_000);
    assert.equal(status.code, 0, cli.output);
    assert.match(cli.output, /Usage:/);
    assert.match(cli.output, /--api-key/);
    assert.match(cli.output, /--tool-call-timeout/);
  });
}

for (
  const [name, args] of [
    ["`cli.ts --version`", ["run", "cli.ts", "--version"]],
    ["`deno task serve --version`", ["task", "serve", "--version"]],
  ] as const
) {
  Deno.test(`${name} prints the version and exits 0`, async () => {
    const port = freePort(); // should `--version` start a server anyway, it must not collide
    await using cli = new DenoProcess([
      ...args,
      ...(args[0] === "task" ? ["--port", `${port}`] : []),
    ]);
    const status = await cli.exit(10_000);
    assert.equal(status.timedOut, false, `still running after 10 s:\n${cli.output}`);
    assert.equal(status.code, 0, cli.output);
    assert.match(cli.output, new RegExp(`^${denoJson.version.replaceAll(".", "\\.")}$`, "m"));
  });
}

// ─── start mistakes: one line naming the flag or variable, exit code 2 ─────────────────────

/** Runs `cli.ts serve <args>` (with `env` added to a clean environment) to its end. */
function serveOnce(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return runDeno(
    ["run", "-A", "cli.ts", "serve", ...args],
    cleanEnv({ PROGTC_API_KEY: "k", ...env }),
  );
}

/** Asserts `run` refused to start with one line that matches each of `expected`. */
function assertOneLine(run: Finished, ...expected: (string | RegExp)[]): void {
  const text = run.stdout + run.stderr;
  assert.equal(run.code, 2, text);
  assert.equal(run.stdout, "", text);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `not one line:\n${run.stderr}`);
  const [line] = lines as [string];
  assert.match(line, /^error: /);
  for (const part of expected) {
    if (typeof part === "string") assert.ok(line.includes(part), `${part} is not in: ${line}`);
    else assert.match(line, part);
  }
  assert.doesNotMatch(line, /Uncaught| {4}at /, "a stack trace");
  // No internal field name (camelCase: toolCallTimeoutMs, memoryBudgetMb).
  assert.doesNotMatch(line, /\b[a-z]+[A-Z][A-Za-z]*\b/, `an internal name in: ${line}`);
}

/** Runs the cases `[args, env, ...expected]` two at a time. */
async function refusals(
  cases: [string[], Record<string, string>, ...(string | RegExp)[]][],
): Promise<void> {
  const queue = [...cases];
  await Promise.all([0, 1].map(async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [args, env, ...expected] = c;
      assertOneLine(await serveOnce(args, env), ...expected);
    }
  }));
}

const DURATION_FLAGS = OPTION_KEYS.map(specOf)
  .filter((spec) => spec.flag !== undefined && spec.kind.placeholder === "<s>")
  .map((spec) => spec.flag!);

Deno.test("bad values on the command line and in PROGTC_* are one line each, naming the flag or variable, exit 2", async () => {
  await refusals([
    [["--port", "abc"], {}, "--port abc: ", "0 to 65535"],
    [[], { PROGTC_PORT: "abc" }, "PROGTC_PORT=abc: ", "0 to 65535"],
    [["--port", "70000"], {}, "--port 70000: "],
    [["--code-execution-timeout", "0"], {}, "--code-execution-timeout 0: ", "seconds from 0.001"],
    [["--code-execution-timeout", "-1"], {}, "--code-execution-timeout -1: ", "seconds from 0.001"],
    [["--tool-call-timeout", "0"], {}, "--tool-call-timeout 0: "],
    [["--max-concurrent", "0"], {}, "--max-concurrent 0: ", "at least 1"],
    [["--max-tool-calls", "0"], {}, "--max-tool-calls 0: ", "at least 1"],
    [["--max-connections", "0"], {}, "--max-connections 0: ", "at least 1"],
    [["--language", "rust"], {}, "--language rust: ", "typescript, javascript or python"],
    [[], { PROGTC_LANGUAGE: "rust" }, "PROGTC_LANGUAGE=rust: "],
    [["--log-format", "xml"], {}, "--log-format xml: ", "text or json"],
    [["--cors-origin", "https://a.example/path"], {}, "--cors-origin https://a.example/path: "],
    [["--cgroups", "maybe"], {}, "--cgroups maybe: ", "auto or off"],
    [["--port"], {}, "--port: expects a value"],
    [["--host", "--port", "1"], {}, "--host: expects a value"],
    [["--bogus-flag", "1"], {}, "--bogus-flag: unknown option"],
    [["8000"], {}, "8000: unexpected argument"],
  ]);
});

Deno.test("every duration is bounded where it is parsed: 30 days is refused at start, 24.8 days is the bound", async () => {
  const thirtyDays = String(30 * 86_400);
  assert.ok(DURATION_FLAGS.length >= 11, DURATION_FLAGS.join());
  await refusals(
    DURATION_FLAGS.filter((flag) => flag !== "state-max-age").map((
      flag,
    ) => [
      [`--${flag}`, thirtyDays],
      {},
      `--${flag} ${thirtyDays}: `,
      "to 2147483.647",
      "24.8 days",
    ]),
  );
  // The state's age is no timer: up to a year, not more.
  await refusals([
    [["--state-max-age", String(400 * 86_400)], {}, "--state-max-age 34560000: ", "366 days"],
    [[], { PROGTC_TOOL_CALL_TIMEOUT: thirtyDays }, `PROGTC_TOOL_CALL_TIMEOUT=${thirtyDays}: `],
  ]);
});

Deno.test("settings that start a server that can never work are refused at start, naming the setting", async () => {
  await refusals([
    [["--memory-budget-mb", "8"], {}, "--memory-budget-mb 8: ", "10 MiB"],
    [[], { PROGTC_MEMORY_BUDGET_MB: "8" }, "PROGTC_MEMORY_BUDGET_MB=8: "],
    [["--memory-budget-mb", "32", "--language", "python"], {}, "--memory-budget-mb 32: ", "64 MiB"],
    [["--data-mb", "1000"], {}, "--data-mb 1000: ", "below 2720"],
    [["--python-data-mb", "1000"], {}, "--python-data-mb 1000: ", "below 2688"],
    [
      ["--data-mb", "8000"],
      {},
      "--data-mb 8000: ",
      "expected at least 36992 MiB",
      "--host-max-programs 64",
    ],
    [["--data-mb", "3000", "--host-max-programs", "2"], {}, "--data-mb 3000: ", "3264 MiB"],
    [
      ["--python-host-max-programs", "8", "--python-data-mb", "4000"],
      {},
      "--python-data-mb 4000: ",
      "--python-host-max-programs 8",
    ],
    [["--heap-mb", "8"], {}, "--heap-mb 8: "],
    [["--sandbox-memory-mb", "16"], {}, "--sandbox-memory-mb 16: "],
    [["--python-sandbox-memory-mb", "200"], {}, "--python-sandbox-memory-mb 200: "],
    [["--max-body-bytes", "10"], {}, "--max-body-bytes 10: ", "no request fits"],
  ]);
});

Deno.test("a failed start is one line naming the flag: port in use, a host that does not resolve, a Deno that does not run", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(listener.addr.port);
  const dir = await Deno.makeTempDir({ prefix: "progtc-cli-" });
  try {
    const notExecutable = `${dir}/deno`;
    await Deno.writeTextFile(notExecutable, "");
    await refusals([
      [["--port", port], {}, `--port ${port}: `, "is in use", "--port 0"],
      [[], { PROGTC_PORT: port }, `PROGTC_PORT=${port}: `, "is in use"],
      [["--host", "nowhere.invalid"], {}, "--host nowhere.invalid: ", "does not resolve"],
      [["--host", "192.0.2.1"], {}, "--host 192.0.2.1: ", "not an address of this machine"],
      [["--sandbox-deno", `${dir}/missing`], {}, `--sandbox-deno ${dir}/missing: `, "no such file"],
      [
        ["--sandbox-deno", notExecutable],
        {},
        `--sandbox-deno ${notExecutable}: `,
        "not executable",
      ],
      [["--sandbox-deno", dir], {}, `--sandbox-deno ${dir}: `, "not a file"],
      [["--sandbox-deno", "/bin/true"], {}, "--sandbox-deno /bin/true: ", "not a Deno binary"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`progtc --help` states the bounds: durations in seconds up to the longest timer", async () => {
  const run = await runDeno(["run", "-A", "cli.ts", "--help"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /at most 2147483\.647 \(about 24\.8 days, the longest\s+timer\)/);
  for (const flag of DURATION_FLAGS) assert.match(run.stdout, new RegExp(`--${flag} <s> `));
  assert.match(run.stdout, /--body-timeout <s> /);
});
