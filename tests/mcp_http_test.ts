/**
 * `progtc mcp --http` with programs on a remote progtc server (`--server`), driven by the MCP
 * TypeScript SDK's Streamable HTTP client: the bearer token is required, and every scenario of
 * issue 20 runs against the real npm servers, in one `progtc mcp` process. A client that cannot
 * ask the person sees destructive calls refused, and allowed by the config.
 *
 * @module
 */
import { match, strictEqual } from "node:assert/strict";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { API_KEY, startServer } from "./_helpers.ts";
import { DenoProcess } from "./_process.ts";
import { execute, mcpFixture, newClient, Person, ROOT } from "./_mcp.ts";
import { SCENARIOS } from "./_mcp_scenarios.ts";

const TOKEN = API_KEY;

Deno.test("progtc mcp over Streamable HTTP, programs on a remote progtc server", async (t) => {
  await using progtc = await startServer({ pythonPoolSize: 1 });
  await using fixture = await mcpFixture({
    broken: { command: "does-not-exist-xyz" },
    // The same memory server again, but its destructive tools run without asking.
    trusted: {
      command: Deno.execPath(),
      args: ["run", "-A", "--quiet", "npm:@modelcontextprotocol/server-memory@2026.8.31"],
      env: { MEMORY_FILE_PATH: "${TEST_DIR}/trusted.jsonl" },
      allowUnconfirmed: ["delete_entities"],
    },
  });
  await using mcp = new DenoProcess(
    [
      "run",
      "-A",
      `${ROOT}cli.ts`,
      "mcp",
      "--config",
      fixture.config,
      "--http",
      "127.0.0.1:0",
      "--server",
      progtc.url,
    ],
    { ...Deno.env.toObject(), PROGTC_API_KEY: API_KEY, TEST_DIR: fixture.dir },
  );
  const [, url] = await mcp.waitFor(
    /listening on (http:\/\/\S+) \(http:\/\/127\.0\.0\.1:\d+ progtc/,
  );
  const connect = async (person?: Person, token = TOKEN) => {
    const client = newClient(person);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url!), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  };

  await t.step("without the bearer token: 401", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }]) {
      const response = await fetch(url!, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
      });
      strictEqual(response.status, 401);
      match(await response.text(), /bearer token/);
    }
  });

  await t.step("a client that cannot ask: destructive calls refused unless allowed", async () => {
    const client = await connect();
    try {
      const { text } = await execute(
        client,
        `import { memory, trusted } from "tools";
try { await memory.delete_entities({ entityNames: ["x"] }); }
catch (error) { console.log(error.name + ": " + error.message); }
// Reaching the flat wire name instead does not skip the approval.
const flat = await import("tools");
try { await flat["memory.delete_entities"]({ entityNames: ["x"] }); }
catch (error) { console.log("flat " + error.name + ": " + error.message); }
console.log(await trusted.delete_entities({ entityNames: ["x"] }));`,
      );
      match(
        text,
        /ToolError: memory\.delete_entities needs the person's approval \(the server marks it destructive\), and this MCP client cannot ask \(it does not support elicitation\), so it did not run/,
      );
      match(text, /flat ToolError: memory\.delete_entities needs the person's approval/);
      match(text, /Entities deleted successfully/);
    } finally {
      await client.close();
    }
  });

  const person = new Person();
  const client = await connect(person);
  try {
    const context = { client, person, fixture, pid: () => mcp.child.pid, tools: 36 + 9 };
    for (const [name, scenario] of SCENARIOS) {
      const ok = await t.step(name, () => scenario(context));
      if (!ok) console.error(mcp.output);
    }
  } finally {
    await client.close();
  }
});
