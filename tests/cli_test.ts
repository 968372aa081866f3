/**
 * The command line as a user runs it: `deno task serve ...` in a subprocess.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import denoJson from "../deno.json" with { type: "json" };
import { DenoProcess, freePort } from "./_process.ts";

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

Deno.test("`deno task serve` with an unknown flag exits 2 and names the flag", async () => {
  await using cli = serveTask(["--bogus-flag", "--api-key", "k"]);
  const status = await cli.exit(20_000);
  assert.equal(status.timedOut, false, `still running after 20 s:\n${cli.output}`);
  assert.equal(status.code, 2, cli.output);
  assert.match(cli.output, /--bogus-flag/);
  assert.doesNotMatch(cli.output, /listening on/);
});
