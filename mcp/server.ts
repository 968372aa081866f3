/**
 * The MCP server a client talks to (one per client session): two tools, `execute` and
 * `search_tools`, whose descriptions come from the catalogue (`describe.ts`), and
 * `notifications/tools/list_changed` whenever the catalogue changes.
 *
 * @module
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolRequest,
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { Asker } from "./approval.ts";
import type { Backend } from "./backend.ts";
import type { Catalog } from "./catalog.ts";
import type { ProgramLanguage } from "./declarations.ts";
import { INSTRUCTIONS, toolList } from "./describe.ts";
import { runExecute } from "./execute.ts";
import { renderSearch, searchEntries } from "./search.ts";

/** What every session shares. */
export interface FrontOptions {
  backend: Backend;
  catalog: Catalog;
  /** The language of programs that name none. */
  language: ProgramLanguage;
  /** The budget of an `execute` answer, in characters. */
  maxResultChars: number;
  /** The progtc server's tool call timeout in milliseconds, when known. */
  callTimeoutMs?: number;
  /** The version this server reports. */
  version: string;
}

const LANGUAGES = ["typescript", "python"];

/** A new MCP server for one client session; `onClose` runs when the session ends. */
export function createMcpServer(options: FrontOptions, onClose?: () => void): Server {
  const server = new Server(
    { name: "progtc", version: options.version },
    { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: toolList(options.catalog, options.language),
  }));
  type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
  server.setRequestHandler(
    CallToolRequestSchema,
    async (request: CallToolRequest, extra: Extra) => {
      const args = request.params.arguments ?? {};
      const language = args.language ?? options.language;
      if (!LANGUAGES.includes(language as string)) {
        return refuse(`language must be "typescript" or "python", not ${JSON.stringify(language)}`);
      }
      switch (request.params.name) {
        case "execute": {
          if (typeof args.code !== "string" || args.code.trim() === "") {
            return refuse("execute needs code: the program, as a string");
          }
          if (args.session !== undefined && typeof args.session !== "string") {
            return refuse('session must be "new" or the id of a session, as a string');
          }
          const token = extra._meta?.progressToken;
          const asker: Asker = {
            canAsk: server.getClientCapabilities()?.elicitation?.form !== undefined,
            ask: async (message, signal) => {
              const answer = await server.elicitInput(
                { mode: "form", message, requestedSchema: { type: "object", properties: {} } },
                { signal, relatedRequestId: extra.requestId, timeout: 10 * 60 * 1000 },
              );
              return answer.action;
            },
          };
          return await runExecute(args.code, language as ProgramLanguage, {
            backend: options.backend,
            catalog: options.catalog,
            asker,
            signal: extra.signal,
            maxResultChars: options.maxResultChars,
            ...(options.callTimeoutMs !== undefined
              ? { callTimeoutMs: options.callTimeoutMs }
              : {}),
            ...(token !== undefined
              ? {
                progress: ({ progress, message }) =>
                  void extra.sendNotification({
                    method: "notifications/progress",
                    params: { progressToken: token, progress, message },
                  }).catch(() => {}),
              }
              : {}),
          }, args.session as string | undefined);
        }
        case "search_tools": {
          const query = args.query ?? "";
          const limit = args.limit ?? 10;
          if (typeof query !== "string") return refuse("query must be a string");
          if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
            return refuse("limit must be a positive integer");
          }
          const { entries } = options.catalog;
          const found = searchEntries(entries, query, limit);
          const text = renderSearch(found, entries.length, language as ProgramLanguage);
          return { content: [{ type: "text", text }] };
        }
        default:
          return refuse(`Unknown tool ${request.params.name}: use execute or search_tools`);
      }
    },
  );
  const unsubscribe = options.catalog.onChange(() => {
    server.sendToolListChanged().catch(() => {});
  });
  server.onclose = () => {
    unsubscribe();
    onClose?.();
  };
  return server;
}

function refuse(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}
