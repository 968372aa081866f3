/**
 * The opt-in CORS allowlist (`corsOrigins`, `--cors-origin`): preflights and responses for the
 * listed origins only, at the fetch level against a real server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, readFrames, startServer } from "./_helpers.ts";

const ALLOWED = "https://app.example";

function preflight(url: string, origin: string): Promise<Response> {
  return fetch(`${url}/execute-code`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "x-progtc-api-key, content-type, x-progtc-language",
    },
  });
}

function execute(url: string, origin: string): Promise<Response> {
  return fetch(`${url}/execute-code`, {
    method: "POST",
    headers: { origin, "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ code: "console.log(1)", tool_names: [] }),
  });
}

Deno.test("a preflight from an allowed origin is 204 with the allowed methods and headers", async () => {
  await using t = await startServer({ corsOrigins: [ALLOWED, "http://localhost:5173"] });
  const response = await preflight(t.url, ALLOWED);
  await response.body?.cancel();
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), ALLOWED);
  assert.match(response.headers.get("access-control-allow-methods")!, /\bPOST\b/);
  const allowed = response.headers.get("access-control-allow-headers")!.split(/,\s*/);
  for (
    const name of [
      "x-progtc-api-key",
      "authorization",
      "content-type",
      "x-progtc-language",
      "traceparent",
    ]
  ) {
    assert.ok(allowed.includes(name), `${name} not allowed: ${allowed}`);
  }
  assert.equal(response.headers.get("access-control-allow-credentials"), null);
});

Deno.test("a response to an allowed origin names it and exposes x-progtc-execution-id", async () => {
  await using t = await startServer({ corsOrigins: [ALLOWED] });
  const response = await execute(t.url, ALLOWED);
  assert.equal(response.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(response.headers.get("access-control-expose-headers"), "x-progtc-execution-id");
  assert.match(response.headers.get("x-progtc-execution-id")!, /^[0-9a-f]{32}$/);
  assert.deepEqual(await readFrames(response), [{ type: "success", stdout: "1\n", stderr: "" }]);
});

Deno.test("another origin gets no CORS headers: its preflight is 405, its request has none", async () => {
  await using t = await startServer({ corsOrigins: [ALLOWED] });
  const denied = await preflight(t.url, "https://evil.example");
  assert.equal(denied.status, 405);
  assert.equal(denied.headers.get("content-type"), "application/problem+json");
  assert.equal((await denied.json()).code, "method_not_allowed");
  assert.equal(denied.headers.get("access-control-allow-origin"), null);
  const response = await execute(t.url, "https://evil.example");
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  await response.body?.cancel();
});

Deno.test("without --cors-origin no response carries CORS headers", async () => {
  await using t = await startServer();
  const denied = await preflight(t.url, ALLOWED);
  assert.equal(denied.status, 405);
  await denied.body?.cancel();
  const response = await execute(t.url, ALLOWED);
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  await response.body?.cancel();
});
