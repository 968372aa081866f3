/**
 * progtc for [MCP](https://modelcontextprotocol.io): {@linkcode mcpTools} turns the tools of an
 * MCP client (`@modelcontextprotocol/sdk`'s `Client`, connected to any server) into progtc
 * tools, typed from their input schemas, so a program can call many MCP tools in one go and
 * only what it prints or returns reaches the model.
 *
 * No dependency on the MCP SDK: any object with its `listTools` and `callTool` will do.
 *
 * @example
 * ```ts ignore
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js";
 * import { describeTools } from "@progtc/progtc/client";
 * import { mcpTools } from "@progtc/progtc/client/mcp";
 *
 * const mcp = new Client({ name: "agent", version: "1.0.0" });
 * await mcp.connect(transport);
 * const tools = await mcpTools(mcp);
 * const prompt = describeTools(tools, { returnValue: true });
 * const result = await progtc.executeCode({ code, tools, returnValue: true });
 * ```
 *
 * @module
 */
import type { JsonSchema } from "./schema.ts";
import { type DefinedTool, defineTool } from "./tools.ts";

/** An MCP tool as `tools/list` describes it. */
export interface McpToolInfo {
  /** Its name. */
  name: string;
  /** What it does. */
  description?: string | undefined;
  /** The JSON Schema of its arguments (an object). */
  inputSchema: { [key: string]: unknown; type: "object" };
  /** The JSON Schema of its `structuredContent`, if it has one. */
  outputSchema?: { [key: string]: unknown; type: "object" } | undefined;
}

/** What `tools/call` answers (the parts progtc reads). */
export interface McpCallResult {
  /** The result as content blocks (text, images, resources). */
  content?: unknown[] | undefined;
  /** The result as JSON, for tools with an output schema. */
  structuredContent?: unknown;
  /** Whether the tool failed (its content says why). */
  isError?: boolean | undefined;
  /** Other fields are ignored. */
  [key: string]: unknown;
}

/** The part of an MCP client progtc uses (`@modelcontextprotocol/sdk`'s `Client` has it). */
export interface McpClientLike {
  /** Lists the server's tools, a page at a time. */
  listTools(params?: { cursor?: string }): Promise<{ tools: McpToolInfo[]; nextCursor?: string }>;
  /** Calls one tool. */
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
}

/** Options of {@linkcode mcpTools}. */
export interface McpToolsOptions {
  /** Keeps only the tools this accepts. */
  filter?: (tool: McpToolInfo) => boolean;
  /** Names the progtc tool of an MCP tool (e.g. to add a prefix, or make it an identifier). */
  name?: (tool: McpToolInfo) => string;
}

/**
 * The tools of an MCP client as progtc tools: each takes one object (its MCP arguments, checked
 * against the tool's input schema first) and returns the call's `structuredContent`, or its
 * text content (the text blocks joined; other blocks as they are). A result with `isError`
 * raises a `ToolError` in the program with the result's text.
 */
export async function mcpTools(
  client: McpClientLike,
  options: McpToolsOptions = {},
): Promise<Record<string, DefinedTool>> {
  const infos: McpToolInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor });
    infos.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  const tools: Record<string, DefinedTool> = {};
  for (const info of infos) {
    if (options.filter && !options.filter(info)) continue;
    const name = options.name ? options.name(info) : info.name;
    tools[name] = defineTool({
      ...(info.description !== undefined ? { description: info.description } : {}),
      input: info.inputSchema as JsonSchema,
      ...(info.outputSchema !== undefined ? { output: info.outputSchema as JsonSchema } : {}),
      execute: async (input: Record<string, unknown>) => {
        const result = await client.callTool({
          name: info.name,
          arguments: input,
        }) as McpCallResult;
        if (result.isError) throw new Error(textOf(result) || `${info.name} failed`);
        if (result.structuredContent !== undefined) return result.structuredContent;
        return valueOf(result);
      },
    });
  }
  return tools;
}

function textOf(result: McpCallResult): string {
  return (result.content ?? [])
    .filter((block): block is { type: "text"; text: string } =>
      typeof block === "object" && block !== null && (block as { type?: unknown }).type === "text"
    )
    .map((block) => block.text)
    .join("\n");
}

/** Text content as one string; anything else (images, resources) as its blocks. */
function valueOf(result: McpCallResult): unknown {
  const content = result.content ?? [];
  const allText = content.every((block) =>
    typeof block === "object" && block !== null && (block as { type?: unknown }).type === "text"
  );
  return allText ? textOf(result) : content;
}
