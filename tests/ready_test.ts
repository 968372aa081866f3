/**
 * `GET /ready`: 200 only when sandboxes of the default language can start now; `/ping` stays
 * the liveness probe.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, delay, heldExecution, startServer } from "./_helpers.ts";
import { serve } from "../server/serve.ts";
import { spawnServer } from "./_process.ts";

Deno.test("/ready answers 200 once sandboxes of the default language are ready", async () => {
  await using t = await startServer();
  const response = await fetch(`${t.url}/ready`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ready", language: "typescript" });
});

/**
 * A "Deno" that passes the check at start (`--version` says deno) but cannot run a sandbox, as
 * a binary replaced or broken after the server started; removed on disposal.
 */
async function brokenDeno(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-ready-" });
  const path = `${dir}/deno`;
  await Deno.writeTextFile(
    path,
    '#!/bin/sh\nif [ "$1" = --version ]; then echo "deno 2.9.6"; exit 0; fi\necho broken >&2\nexit 1\n',
  );
  await Deno.chmod(path, 0o755);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("/ready answers 503 not_ready with the reason when the sandboxes' Deno cannot run them, /ping 200", async () => {
  await using deno = await brokenDeno();
  await using server = await serve({
    apiKey: API_KEY,
    port: 0,
    poolSize: 1,
    pythonPoolSize: 0,
    denoPath: deno.path,
    log: () => {},
  });
  let response: Response;
  const deadline = Date.now() + 5000;
  while (true) {
    response = await fetch(`${server.url}/ready`);
    const body = await response.json();
    if (response.status === 503 && /cannot start/.test(body.detail)) {
      assert.equal(response.headers.get("content-type"), "application/problem+json");
      assert.equal(body.code, "not_ready");
      assert.match(body.detail, /^typescript sandboxes cannot start: /);
      break;
    }
    assert.ok(Date.now() < deadline, `no 503 in 5 s: ${response.status} ${JSON.stringify(body)}`);
    await delay(50);
  }
  assert.equal((await fetch(`${server.url}/ping`)).status, 200);
});

Deno.test("/ready with --sandbox-deno naming a Deno that cannot run sandboxes is 503 (a missing one is refused at start: cli_test.ts)", async () => {
  await using deno = await brokenDeno();
  await using cli = await spawnServer(["--sandbox-deno", deno.path]);
  let response = await fetch(`${cli.url}/ready`);
  let body = await response.json();
  for (let i = 0; i < 100 && !/cannot start/.test(body.detail); i++) {
    await delay(50);
    response = await fetch(`${cli.url}/ready`);
    body = await response.json();
  }
  assert.equal(response.status, 503, JSON.stringify(body));
  assert.match(body.detail, /^typescript sandboxes cannot start: /);
  assert.equal(body.code, "not_ready");
  assert.equal((await fetch(`${cli.url}/ping`)).status, 200);
});

Deno.test("/ready answers 503 shutting_down while the server drains", async () => {
  await using t = await startServer();
  t.server.app.drain();
  const response = await fetch(`${t.url}/ready`);
  assert.equal(response.status, 503);
  assert.equal((await response.json()).code, "shutting_down");
});

Deno.test("/ready answers 503 over_capacity while no program could be admitted, 200 again after", async () => {
  await using t = await startServer({ maxConcurrent: 1 });
  const held = heldExecution(t.client);
  await held.called;
  const full = await fetch(`${t.url}/ready`);
  assert.equal(full.status, 503);
  assert.equal(full.headers.get("retry-after"), "1");
  const body = await full.json();
  assert.equal(body.code, "over_capacity");
  assert.equal(body.detail, "Every execution slot is taken");
  held.release();
  assert.equal((await held.result).type, "success");
  const again = await fetch(`${t.url}/ready`);
  assert.equal(again.status, 200, JSON.stringify(await again.clone().json()));
  await again.body?.cancel();
});
