/**
 * `progtc mcp` over stdio, as desktop clients launch it, driven by the MCP TypeScript SDK's
 * client: every scenario of issue 20 against the real npm servers, in one `progtc mcp` process.
 *
 * progtc-test: waits (1.7 s of CPU in 7.3 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mcpFixture, newClient, Person, ROOT } from "./_mcp.ts";
import { SCENARIOS } from "./_mcp_scenarios.ts";

Deno.test("progtc mcp over stdio, with the MCP TypeScript SDK's client", async (t) => {
  await using fixture = await mcpFixture({ broken: { command: "does-not-exist-xyz" } });
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", `${ROOT}cli.ts`, "mcp", "--config", fixture.config],
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
  const person = new Person();
  const client = newClient(person);
  await client.connect(transport);
  try {
    const context = { client, person, fixture, pid: () => transport.pid!, tools: 36 };
    for (const [name, scenario] of SCENARIOS) {
      const ok = await t.step(name, () => scenario(context));
      if (!ok) console.error(stderr);
    }
  } finally {
    await client.close();
  }
});
