/**
 * The baseline every tool-call number is compared with: a bare `Deno.serve` SSE echo. The
 * client opens one event stream; for each event it receives (parsed with the client's own
 * `readEvents`), it POSTs a JSON answer; the server then sends the next event. Frames and
 * bodies have the shape and size of progtc's `tool_call` frames and `/tool-results` bodies, and
 * the client POSTs the way `ProgtcClient` does (concurrently with reading the stream).
 *
 * This is the floor for an HTTP+SSE tool-call protocol on this machine and this Deno: progtc
 * adds the sandbox process, its pipes, its worker and its checks on top of it.
 *
 * @module
 */
import { readEvents } from "../client/sse.ts";

const encoder = new TextEncoder();

/** A running echo server. */
export interface EchoServer extends AsyncDisposable {
  url: string;
}

function hex32(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

function frame(executionId: string, i: number): Uint8Array {
  const call = {
    type: "tool_call",
    id: hex32(),
    execution_id: executionId,
    tool_name: "echo",
    args: [i],
    kwargs: {},
  };
  return encoder.encode(`data: ${JSON.stringify(call)}\n\n`);
}

/** Starts the echo server on 127.0.0.1, port 0. */
export async function startEchoServer(): Promise<EchoServer> {
  const streams = new Map<
    string,
    { controller: ReadableStreamDefaultController<Uint8Array>; n: number }
  >();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/stream") {
      const { n } = await request.json() as { n: number };
      const id = hex32();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          streams.set(id, { controller, n });
          if (n > 0) controller.enqueue(frame(id, 0));
          else {
            controller.enqueue(encoder.encode(`data: {"type":"success"}\n\n`));
            controller.close();
          }
        },
        cancel: () => void streams.delete(id),
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    }
    if (pathname === "/ack") {
      const ack = await request.json() as { execution_id: string; result: number };
      const stream = streams.get(ack.execution_id);
      if (!stream) return new Response(null, { status: 404 });
      const next = ack.result + 1;
      if (next < stream.n) stream.controller.enqueue(frame(ack.execution_id, next));
      else {
        stream.controller.enqueue(
          encoder.encode(`data: {"type":"success","stdout":"","stderr":""}\n\n`),
        );
        stream.controller.close();
        streams.delete(ack.execution_id);
      }
      return Response.json(null);
    }
    return new Response(null, { status: 404 });
  });
  const addr = await listening.promise;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Options of {@linkcode echoRun}. */
export interface EchoRunOptions {
  /** Wait this long (ms) before answering each event, like a tool that takes time. */
  delayMs?: () => number;
  /** The HTTP client to use. */
  client?: Deno.HttpClient;
}

/**
 * Runs `n` round trips over one event stream. Returns the time of each event's arrival at the
 * client (performance.now()), from the first event to the terminal one (`n + 1` stamps), and
 * the total time from the request to the terminal event.
 */
export async function echoRun(
  url: string,
  n: number,
  options: EchoRunOptions = {},
): Promise<{ stamps: number[]; total: number }> {
  const client = options.client ? { client: options.client } : {};
  const started = performance.now();
  const stamps: number[] = [];
  const response = await fetch(`${url}/stream`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n }),
    ...client,
  });
  if (!response.body) throw new Error("Echo server sent no body");
  const posts: Promise<void>[] = [];
  for await (const data of readEvents(response.body)) {
    stamps.push(performance.now());
    const event = JSON.parse(data) as {
      type: string;
      id: string;
      execution_id: string;
      args: number[];
    };
    if (event.type !== "tool_call") break;
    posts.push(ack(url, event, options));
  }
  await Promise.all(posts);
  return { stamps, total: performance.now() - started };
}

async function ack(
  url: string,
  event: { id: string; execution_id: string; args: number[] },
  options: EchoRunOptions,
): Promise<void> {
  const delay = options.delayMs?.() ?? 0;
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  // The same request shape as ProgtcClient's POST /tool-results.
  const response = await fetch(`${url}/ack`, {
    method: "POST",
    headers: {
      "x-progtc-api-key": "bench-key",
      prefer: "handling=strict",
      "content-type": "application/json",
    },
    body: JSON.stringify({
      execution_id: event.execution_id,
      tool_call_id: event.id,
      result: event.args[0],
    }),
    ...(options.client ? { client: options.client } : {}),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`Echo ack failed: ${response.status}`);
}

/** Gaps between consecutive stamps: one per round trip. */
export function gaps(stamps: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < stamps.length; i++) out.push(stamps[i]! - stamps[i - 1]!);
  return out;
}
