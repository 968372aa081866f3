/**
 * An MCP server (the MCP SDK's `McpServer` on stdio) whose two tools, `get-env` and `get_env`,
 * map to one name inside a program: `progtc mcp` must refuse to start with it.
 *
 * @module
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const server = new McpServer({ name: "clash", version: "1.0.0" });
for (const name of ["get-env", "get_env"]) {
  server.registerTool(name, { description: `${name}` }, () => ({ content: [] }));
}
await server.connect(new StdioServerTransport());
