/**
 * `ProgtcClient` carries a load balancer's affinity cookie (the `Set-Cookie` of the
 * `/execute-code` response) to the `/tool-results` POSTs of that execution, and to no other.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { API_KEY, startServer } from "./_helpers.ts";

Deno.test("executeCode() sends the cookie its /execute-code response set with each /tool-results", async () => {
  await using t = await startServer();
  const seen: { path: string; cookie: string | null }[] = [];
  let n = 0;
  const client = new ProgtcClient({
    baseUrl: t.url,
    apiKey: API_KEY,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const path = new URL(request.url).pathname;
      seen.push({ path, cookie: request.headers.get("cookie") });
      const response = await fetch(request);
      if (path !== "/execute-code") return response;
      // What HAProxy's `cookie SRV insert` adds: a different server per execution.
      const headers = new Headers(response.headers);
      headers.append("set-cookie", `SRV=s${++n}; path=/`);
      headers.append("set-cookie", "other=1; HttpOnly");
      return new Response(response.body, { status: response.status, headers });
    },
  });
  const code = `import { add } from "tools"; console.log(await add(1, 2), await add(3, 4));`;
  const tools = { add: (a: number, b: number) => a + b };
  for (const expected of ["SRV=s1; other=1", "SRV=s2; other=1"]) {
    seen.length = 0;
    const result = await client.executeCode({ code, tools });
    assert.deepEqual(result, { type: "success", stdout: "3 7\n", stderr: "" });
    assert.deepEqual(seen, [
      { path: "/execute-code", cookie: null },
      { path: "/tool-results", cookie: expected },
      { path: "/tool-results", cookie: expected },
    ]);
  }
});
