/**
 * The server's log in JSON (`logFormat: "json"`, `--log-format json`): one object per line
 * for each execution, step and refused request, with its level; and the execution id in the
 * `x-progtc-execution-id` response header.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, post, readFrames, sseFrames, startServer } from "./_helpers.ts";
import { DenoProcess, freePort } from "./_process.ts";

const ADD = { code: `import { add } from "tools"; console.log(await add(1, 2));`, tool_names: [] };

function records(lines: string[]): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line));
}

Deno.test("JSON logs: one object per execution, step and refused request, with level and code", async () => {
  await using t = await startServer({ logFormat: "json" });
  const stream = await post(`${t.url}/execute-code`, { code: "console.log(1)", tool_names: [] });
  const executionId = stream.headers.get("x-progtc-execution-id");
  assert.deepEqual(await readFrames(stream), [{ type: "success", stdout: "1\n", stderr: "" }]);
  const step = await post(`${t.url}/execute-code-step`, { code: "console.log(2)", tool_names: [] });
  const session = step.headers.get("x-progtc-execution-id");
  assert.equal((await step.json()).type, "success");
  const unauthorized = await post(`${t.url}/execute-code`, ADD, { "x-progtc-api-key": "wrong" });
  await unauthorized.body?.cancel();
  const missing = await post(`${t.url}/nowhere`, {});
  await missing.body?.cancel();

  const [execution, stepped, refused401, refused404, ...more] = records(t.logs);
  assert.deepEqual(more, [], t.logs.join("\n"));
  assert.match(executionId!, /^[0-9a-f]{32}$/);
  assert.equal(execution!.level, "info");
  assert.equal(execution!.event, "execution");
  assert.equal(execution!.execution_id, executionId);
  assert.equal(execution!.outcome, "success");
  assert.equal(execution!.language, "typescript");
  assert.equal(typeof execution!.duration_ms, "number");
  assert.match(String(execution!.msg), new RegExp(`^execution ${executionId} success`));
  assert.ok(!Number.isNaN(Date.parse(String(execution!.time))));
  assert.match(session!, /^[0-9a-f]{32}$/);
  assert.equal(stepped!.event, "step");
  assert.equal(stepped!.session, session);
  assert.equal(stepped!.outcome, "success");
  for (
    const [record, status, code, path] of [
      [refused401, 401, "unauthorized", "/execute-code"],
      [refused404, 404, "not_found", "/nowhere"],
    ] as const
  ) {
    assert.equal(record!.level, "warn");
    assert.equal(record!.event, "refused");
    assert.equal(record!.status, status);
    assert.equal(record!.code, code);
    assert.equal(record!.path, path);
  }
  assert.ok(!t.logs.join("\n").includes(API_KEY), "the key is never logged");
});

Deno.test("text logs: a refused request is one line with its status and code", async () => {
  await using t = await startServer();
  const response = await post(`${t.url}/execute-code`, "{", { "x-progtc-api-key": API_KEY });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).code, "malformed_json");
  assert.deepEqual(t.logs, ["refused POST /execute-code: 400 malformed_json"]);
});

Deno.test("the tool calls of an execution carry the id its x-progtc-execution-id header names", async () => {
  await using t = await startServer();
  const response = await post(`${t.url}/execute-code`, {
    code: `import { add } from "tools"; await add(1, 2);`,
    tool_names: ["add"],
  });
  const id = response.headers.get("x-progtc-execution-id");
  const frames = sseFrames(response);
  const call = (await frames.next()).value!;
  assert.equal(call.type, "tool_call");
  assert.equal(call.execution_id, id);
  await frames.return(undefined);
});

Deno.test("`--log-format json` writes every line of `deno task serve` as JSON, info on stdout", async () => {
  const port = freePort();
  const env = { ...Deno.env.toObject(), PROGTC_API_KEY: "k-json" };
  await using serve = new DenoProcess([
    "run",
    "-A",
    "cli.ts",
    "serve",
    "--port",
    String(port),
    "--log-format",
    "json",
  ], env);
  await serve.waitFor(/"event":"settings"/);
  serve.child.kill("SIGTERM");
  const status = await serve.exit();
  assert.equal(status.code, 0, serve.output);
  const lines = serve.output.trim().split("\n");
  const parsed = lines.map((line) => JSON.parse(line));
  assert.ok(parsed.some((r) => r.event === "listening" && r.port === port), serve.output);
  assert.ok(parsed.every((r) => ["info", "warn", "error"].includes(r.level)), serve.output);
  assert.ok(!serve.output.includes("k-json"), "the key is never logged");
});
