/**
 * The stdio front, what desktop clients launch: one MCP session on this process's stdin and
 * stdout. stdout carries the protocol only, so everything else the process would print goes to
 * stderr. The session ends when the client closes stdin.
 *
 * @module
 */
import process from "node:process";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createMcpServer, type FrontOptions } from "./server.ts";

/** Serves one session on stdio; resolves when the client has closed stdin. */
export async function serveStdio(options: FrontOptions): Promise<void> {
  // A stray console.log would corrupt the protocol: send the console's stdout methods to stderr.
  console.log = console.info = console.debug = console.error;
  const closed = Promise.withResolvers<void>();
  const server = createMcpServer(options, () => closed.resolve());
  const transport = new StdioServerTransport();
  process.stdin.on("end", () => void server.close());
  process.stdin.on("close", () => void server.close());
  await server.connect(transport);
  await closed.promise;
}
