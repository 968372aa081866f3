/**
 * `X-Progtc-Language`: the REAL Python client (progtc 0.1.17 and 0.2.0) cannot send
 * `language`, but sends the headers it is given (`AsyncProgtcClient(..., headers=...)`): with
 * `X-Progtc-Language: python`, a TypeScript-by-default server runs its Python programs. The
 * body's `language` wins over the header.
 *
 * @module
 */
import assert from "node:assert/strict";
import { API_KEY, post, readFrames, startServer } from "./_helpers.ts";
import { runClient } from "./interop/_python.ts";
import { forEachVersion } from "./interop/_report.ts";
import { needsPython } from "./interop/venv.ts";

Deno.test(
  "the Python client with an X-Progtc-Language: python header runs Python programs, streaming and step",
  needsPython,
  async () => {
    await using t = await startServer();
    await forEachVersion(async (version) => {
      for (const mode of ["stream", "step"]) {
        const report = await runClient(
          version,
          "many_client.py",
          mode,
          { baseUrl: t.url, apiKey: API_KEY },
          { args: ["2", "--language-header", "python"] },
        );
        assert.deepEqual(
          report.results,
          [0, 1].map((i) => ({
            i,
            result: { type: "success", stdout: `${i + 1} ${i + 2}\n`, stderr: "" },
          })),
          `${mode}: ${JSON.stringify(report)}`,
        );
      }
    });
    assert.ok(t.logs.some((line) => /^execution \S+ success/.test(line)), t.logs.join("\n"));
  },
);

Deno.test("the body's language wins over X-Progtc-Language", async () => {
  await using t = await startServer();
  const response = await post(`${t.url}/execute-code`, {
    code: "console.log(typeof Deno)",
    tool_names: [],
    language: "typescript",
  }, { "x-progtc-api-key": API_KEY, "x-progtc-language": "python" });
  assert.deepEqual(await readFrames(response), [
    { type: "success", stdout: "object\n", stderr: "" },
  ]);
});

Deno.test("an unknown X-Progtc-Language is 400 unsupported_language, on both APIs", async () => {
  await using t = await startServer();
  for (const path of ["/execute-code", "/execute-code-step"]) {
    const response = await post(`${t.url}${path}`, { code: "1", tool_names: [] }, {
      "x-progtc-api-key": API_KEY,
      "x-progtc-language": "cobol",
    });
    assert.equal(response.status, 400, path);
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    assert.equal((await response.json()).code, "unsupported_language");
  }
});
