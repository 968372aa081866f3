/**
 * The HTTP surface, in process and on a real server: keys, malformed and oversized bodies
 * (also cut short, also past the inline parser's size), unknown routes and executions, each
 * with its problem+json code; the programs' size limit. Tool results over HTTP:
 * http_tool_results_test.ts.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { createApp } from "../server/app.ts";
import { INLINE_BYTES } from "../server/json_parser.ts";
import { API_KEY, post, problem, readFrames, startServer } from "./_helpers.ts";

const KEY = { "x-progtc-api-key": API_KEY };

async function withApp(
  test: (fetch: (request: Request) => Promise<Response>) => Promise<void>,
  options: { maxBodyBytes?: number } = {},
) {
  const app = await createApp({
    apiKey: API_KEY,
    poolSize: 0,
    pythonPoolSize: 0,
    log: () => {},
    ...options,
  });
  try {
    await test(app.fetch);
  } finally {
    await app.close();
  }
}

function request(path: string, body: unknown, headers: Record<string, string> = KEY): Request {
  return new Request(`http://progtc.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("createApp() answers /ping without a key", async () => {
  await withApp(async (fetch) => {
    const response = await fetch(new Request("http://progtc.test/ping"));
    strictEqual(response.status, 200);
    strictEqual(await response.text(), "");
  });
});

Deno.test("createApp() answers 401 when the key is missing or wrong", async () => {
  await withApp(async (fetch) => {
    const body = { code: "", tool_names: [] };
    await problem(await fetch(request("/execute-code", body, {})), 401, "unauthorized");
    await problem(
      await fetch(request("/execute-code", body, { "x-progtc-api-key": "wrong" })),
      401,
      "unauthorized",
    );
    await problem(
      await fetch(request("/tool-results", body, { authorization: "Bearer wrong" })),
      401,
      "unauthorized",
    );
    await problem(
      await fetch(request("/tool-results", body, { authorization: `Basic ${API_KEY}` })),
      401,
      "unauthorized",
    );
  });
});

Deno.test("createApp() accepts the key in either header form", async () => {
  await using t = await startServer();
  for (const headers of [KEY, { authorization: `Bearer ${API_KEY}` }]) {
    const response = await post(
      `${t.url}/execute-code`,
      { code: "console.log(1)", tool_names: [] },
      headers,
    );
    deepStrictEqual(await readFrames(response), [{ type: "success", stdout: "1\n", stderr: "" }]);
  }
});

Deno.test("createApp() answers 400 malformed_json to a body that is not JSON", async () => {
  await withApp(async (fetch) => {
    const detail = await problem(
      await fetch(request("/execute-code", "{nope")),
      400,
      "malformed_json",
    );
    match(detail, /not valid JSON/);
  });
});

Deno.test("createApp() answers 422 invalid_body to wrong field types, naming the field", async () => {
  await withApp(async (fetch) => {
    const cases: [string, unknown, RegExp][] = [
      ["/execute-code", { code: 1, tool_names: [] }, /code/],
      ["/execute-code", { code: "", tool_names: "add" }, /tool_names/],
      ["/execute-code", { code: "", tool_names: ["a", "a"] }, /duplicates/],
      ["/execute-code", { code: "", tool_names: [""] }, /tool_names\.0/],
      ["/execute-code", { code: "", tool_names: [], language: "cobol" }, /language/],
      ["/execute-code", [1, 2], /body/],
      ["/execute-code", { code: "", tool_names: [], return_value: "yes" }, /return_value/],
      ["/execute-code-step", { code: "", tool_names: [], return_value: 1 }, /return_value/],
      ["/tool-results", { execution_id: "x", tool_call_id: "y" }, /result/],
      ["/tool-results", { execution_id: 1, tool_call_id: "y", result: 1 }, /execution_id/],
      ["/tool-results", { execution_id: "x", tool_call_id: "y", result: 1, error: "e" }, /result/],
    ];
    for (const [path, body, field] of cases) {
      match(await problem(await fetch(request(path, body)), 422, "invalid_body"), field);
    }
  });
});

Deno.test("createApp() answers 413 to a body over the limit", async () => {
  await withApp(async (fetch) => {
    const big = { code: "x".repeat(2000), tool_names: [] };
    await problem(await fetch(request("/execute-code", big)), 413, "body_too_large");
    // Without a Content-Length header, the limit holds while streaming the body.
    const streamed = new Request("http://progtc.test/execute-code", {
      method: "POST",
      headers: { "content-type": "application/json", ...KEY },
      body: new Blob([JSON.stringify(big)]).stream(),
    });
    await problem(await fetch(streamed), 413, "body_too_large");
  }, { maxBodyBytes: 1000 });
});

Deno.test("createApp() answers 404 to an unknown execution and 404/405 to unknown routes", async () => {
  await withApp(async (fetch) => {
    const body = { execution_id: "0".repeat(32), tool_call_id: "1".repeat(32), result: 1 };
    await problem(await fetch(request("/tool-results", body)), 404, "unknown_execution");
    await problem(await fetch(request("/nope", {})), 404, "not_found");
    const get = new Request("http://progtc.test/execute-code", { headers: KEY });
    const response = await fetch(get);
    await problem(response, 405, "method_not_allowed");
  });
});

async function raw(port: number, bytes: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(bytes));
    await conn.closeWrite();
    return new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  } catch (error) {
    conn.close();
    throw error;
  }
}

Deno.test("a body that ends early or has broken chunks is a 400, not a 500, and the server goes on", async () => {
  await using t = await startServer();
  const head = (extra: string) =>
    `POST /execute-code HTTP/1.1\r\nhost: x\r\nx-progtc-api-key: ${API_KEY}\r\n` +
    `content-type: application/json\r\n${extra}\r\n`;
  const short = await raw(t.server.addr.port, head("content-length: 1000\r\n") + '{"code":');
  match(short, /^HTTP\/1\.1 400 /);
  match(short, /"code":"body_incomplete"/);
  const chunks = await raw(
    t.server.addr.port,
    head("transfer-encoding: chunked\r\n") + '5\r\n{"cod\r\nzz\r\nxx\r\n',
  );
  // Hyper closes a connection whose framing broke: nothing, or our 400, comes back.
  ok(chunks === "" || /^HTTP\/1\.1 400 [^]*"code":"body_incomplete"/.test(chunks), chunks);
  strictEqual(t.logs.filter((line) => line.includes("internal error")).length, 0, t.logs.join());
  const result = await t.client.executeCode({ code: "console.log(1)", tools: {} });
  strictEqual(result.stdout, "1\n");
});

Deno.test("a program over --max-program-bytes (code and modules, in UTF-8) is 413 program_too_large", async () => {
  await withApp(async (fetch) => {
    // 400 K characters of CJK: under the limit in UTF-16 units, 1.2 MB in UTF-8.
    const cjk = { code: `// ${"中".repeat(400_000)}`, tool_names: [] };
    for (const path of ["/execute-code", "/execute-code-step"]) {
      const detail = await problem(await fetch(request(path, cjk)), 413, "program_too_large");
      strictEqual(
        detail,
        "The program (1200003 bytes with its modules) exceeds the limit of 1048576 bytes",
      );
    }
    // Over the limit in characters already: refused without counting every byte.
    const ascii = { code: `// ${"a".repeat(2_000_000)}`, tool_names: [] };
    strictEqual(
      await problem(await fetch(request("/execute-code", ascii)), 413, "program_too_large"),
      "The program (at least 2000003 bytes with its modules) exceeds the limit of 1048576 bytes",
    );
    const modules = {
      code: "import helper",
      language: "python",
      tool_names: [],
      modules: { helper: "x = 1\n".repeat(200_000) },
    };
    await problem(await fetch(request("/execute-code", modules)), 413, "program_too_large");
  });
});

Deno.test("a body over the inline parsing size gets the same 400 and 422 answers from the parser worker", async () => {
  await withApp(async (fetch) => {
    const padding = "x".repeat(INLINE_BYTES);
    await problem(
      await fetch(request("/execute-code", `{"code":"${padding}", "tool_names": [}`)),
      400,
      "malformed_json",
    );
    const detail = await problem(
      await fetch(
        request("/tool-results", { execution_id: 1, tool_call_id: "b", result: padding }),
      ),
      422,
      "invalid_body",
    );
    strictEqual(
      detail,
      "Invalid request body: execution_id: Invalid input: expected string, received number",
    );
    await problem(
      await fetch(
        request("/execute-code-step", { code: "1", tool_names: [], tool_results: [padding] }),
      ),
      400,
      "invalid_body",
    );
  });
});
