/**
 * The Streamable HTTP front (`--http [host:]port`): MCP sessions at `/mcp`, each with its own
 * server and the SDK's web-standard transport, behind the API key as a bearer token
 * (`Authorization: Bearer <PROGTC_API_KEY>`). Sessions are bounded in number and closed after
 * they have been idle for a while.
 *
 * @module
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { createMcpServer, type FrontOptions } from "./server.ts";

/** Options of {@linkcode serveHttp}. */
export interface HttpOptions {
  hostname: string;
  port: number;
  /** The bearer token clients must send. */
  apiKey: string;
  /** Sessions open at once; a new one past it gets 503. */
  maxSessions?: number;
  /** Milliseconds a session may stay without a request before it is closed. */
  sessionIdleMs?: number;
  /** Called once it listens. */
  onListen?: (url: string) => void;
}

/** A listening HTTP front. */
export interface HttpFront extends AsyncDisposable {
  readonly url: string;
  /** Sessions open now. */
  readonly sessions: number;
  close(): Promise<void>;
}

interface Session {
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  lastUsed: number;
}

/** Serves MCP over Streamable HTTP until closed. */
export function serveHttp(front: FrontOptions, options: HttpOptions): HttpFront {
  const maxSessions = options.maxSessions ?? 100;
  const idleMs = options.sessionIdleMs ?? 60 * 60 * 1000;
  const sessions = new Map<string, Session>();
  const expected = new TextEncoder().encode(`Bearer ${options.apiKey}`);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, session] of sessions) {
      if (now - session.lastUsed <= idleMs) continue;
      sessions.delete(id);
      void session.server.close().catch(() => {});
    }
  }, Math.min(idleMs, 60_000));

  const handle = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname !== "/mcp") return problem(404, "Not found: use /mcp");
    const given = new TextEncoder().encode(request.headers.get("authorization") ?? "");
    if (!timingSafeEqual(given, expected)) {
      return problem(401, "Missing or wrong bearer token (the API key)", {
        "www-authenticate": 'Bearer realm="progtc"',
      });
    }
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = sessions.get(id);
      if (!session) return problem(404, "Unknown or expired session: initialize a new one");
      session.lastUsed = Date.now();
      return await session.transport.handleRequest(request);
    }
    if (request.method !== "POST") return problem(400, "No session: initialize one with POST");
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return problem(400, "The body is not JSON");
    }
    if (!isInitializeRequest(body)) return problem(400, "No session: send initialize first");
    if (sessions.size >= maxSessions) {
      return problem(503, `Too many sessions (${maxSessions}): close one, or wait`);
    }
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (sessionId: string) => {
        sessions.set(sessionId, { server, transport, lastUsed: Date.now() });
      },
      onsessionclosed: (sessionId: string) => void sessions.delete(sessionId),
    });
    const server = createMcpServer(front, () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    });
    await server.connect(transport);
    return await transport.handleRequest(request, { parsedBody: body });
  };

  const httpServer = Deno.serve(
    {
      hostname: options.hostname,
      port: options.port,
      onListen: ({ hostname, port }) => {
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        const url = `http://${host}:${port}/mcp`;
        options.onListen?.(url);
      },
    },
    (request) =>
      handle(request).catch((error) =>
        problem(500, `Internal error: ${error instanceof Error ? error.message : error}`)
      ),
  );
  const addr = httpServer.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const close = async () => {
    clearInterval(sweep);
    await Promise.all([...sessions.values()].map((s) => s.server.close().catch(() => {})));
    sessions.clear();
    await httpServer.shutdown();
  };
  return {
    url: `http://${host}:${addr.port}/mcp`,
    get sessions() {
      return sessions.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function problem(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json(
    { jsonrpc: "2.0", error: { code: -32000, message }, id: null },
    { status, headers },
  );
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
