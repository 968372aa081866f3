/**
 * An MCP server for the tests of `progtc mcp` (the MCP SDK's low-level `Server` on stdio) with
 * what the npm servers do not show: it lists its tools two per page, and its tool `add_tool`
 * adds a tool and sends `notifications/tools/list_changed`. With the argument `clash` its tools
 * are `get-env` and `get_env`, which map to one name inside a program.
 *
 * @module
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  type CallToolRequest,
  CallToolRequestSchema,
  type ListToolsRequest,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";

const tool = (name: string): Tool => ({
  name,
  description: `The tool ${name}: answers its own name`,
  inputSchema: { type: "object", properties: {} },
  annotations: { readOnlyHint: true },
});
const tools: Tool[] = Deno.args[0] === "clash"
  ? [tool("get-env"), tool("get_env")]
  : [tool("first"), tool("second"), tool("third"), {
    name: "add_tool",
    description: "Adds a tool named `name`",
    inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
  }];

const server = new Server({ name: "fixture", version: "1.0.0" }, {
  capabilities: { tools: { listChanged: true } },
});
server.setRequestHandler(ListToolsRequestSchema, (request: ListToolsRequest) => {
  const start = Number(request.params?.cursor ?? 0);
  const next = start + 2;
  return {
    tools: tools.slice(start, next),
    ...(next < tools.length ? { nextCursor: String(next) } : {}),
  };
});
server.setRequestHandler(CallToolRequestSchema, async (request: CallToolRequest) => {
  const { name, arguments: args } = request.params;
  if (name === "add_tool") {
    tools.push(tool(String(args?.name)));
    await server.sendToolListChanged();
    return { content: [{ type: "text", text: `added ${args?.name}` }] };
  }
  return { content: [{ type: "text", text: name }] };
});
await server.connect(new StdioServerTransport());
