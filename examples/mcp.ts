/**
 * An MCP server's tools called from one program: an in-memory MCP server (the MCP SDK's
 * `McpServer` on an `InMemoryTransport`) with three tools, an MCP client connected to it,
 * `mcpTools` turning its tools into progtc tools, and a program on a progtc server that calls
 * them, handles a failing one, and returns a value.
 *
 * ```sh
 * export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
 * deno run --allow-net --allow-env examples/mcp.ts
 * ```
 *
 * @module
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { describeTools, ProgtcClient } from "../client/mod.ts";
import { mcpTools } from "../client/mcp.ts";

/** An MCP server with a structured tool, a text tool and a tool that fails. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: "inventory", version: "1.0.0" });
  server.registerTool("stock", {
    description: "Units in stock of a product",
    inputSchema: { sku: z.string() },
    outputSchema: { sku: z.string(), units: z.number() },
  }, ({ sku }: { sku: string }) => {
    const structuredContent = { sku, units: sku === "A-1" ? 12 : 0 };
    return {
      content: [{ type: "text", text: JSON.stringify(structuredContent) }],
      structuredContent,
    };
  });
  server.registerTool(
    "describe",
    {
      description: "A product's description",
      inputSchema: { sku: z.string() },
    },
    ({ sku }: { sku: string }) => ({
      content: [{ type: "text", text: `${sku}: a very good widget` }],
    }),
  );
  server.registerTool("reorder", {
    description: "Orders more units of a product",
    inputSchema: { sku: z.string(), units: z.number().int().positive() },
  }, ({ sku }: { sku: string }) => ({
    content: [{ type: "text", text: `supplier of ${sku} is closed today` }],
    isError: true,
  }));
  return server;
}

/** Connects an MCP client to the server, runs the program; returns the result and the prompt. */
export async function main() {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = mcpServer();
  await server.connect(serverSide);
  const mcp = new Client({ name: "agent", version: "1.0.0" });
  await mcp.connect(clientSide);
  try {
    const tools = await mcpTools(mcp);
    const progtc = new ProgtcClient({
      baseUrl: Deno.env.get("PROGTC_URL") ?? "http://127.0.0.1:8000",
      apiKey: Deno.env.get("PROGTC_API_KEY") ?? "your-secret-key",
    });
    const result = await progtc.executeCode({
      code: `import { stock, describe, reorder } from "tools";
const skus = ["A-1", "B-2"];
const levels = await Promise.all(skus.map((sku) => stock({ sku })));
const empty = levels.filter((level) => level.units === 0);
for (const { sku } of empty) {
  try {
    await reorder({ sku, units: 10 });
  } catch (error) {
    console.log(error.name + ": " + error.message);
  }
}
export default { inStock: await describe({ sku: "A-1" }), empty: empty.map((l) => l.sku) };`,
      tools,
      returnValue: true,
    });
    return { result, prompt: describeTools(tools, { returnValue: true }) };
  } finally {
    await mcp.close();
    await server.close();
  }
}

if (import.meta.main) {
  const { result, prompt } = await main();
  console.log(prompt);
  console.log(JSON.stringify(result));
}
