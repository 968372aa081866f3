/**
 * The echo: the floor of an HTTP + SSE tool-call protocol on this machine. It speaks progtc's
 * wire protocol with no program behind it: `POST /execute-code` opens an event stream and sends
 * one `tool_call` frame (the shape and size of progtc's); each `POST /tool-results` that answers
 * it sends the next frame at once; after the last, a `success` frame. What to call and print
 * comes in the request's `echo` field: `{"args": [[0], [1], …], "stdout": "…"}`. A result that
 * is not the call's first argument ends the stream with `runtime_error`, so a client that
 * misroutes cannot pass.
 *
 * `deno run --allow-net _echo_server.ts <api key>`; prints `echo listening on <url>` to stderr.
 *
 * @module
 */

interface Stream {
  controller: ReadableStreamDefaultController<Uint8Array>;
  toolName: string;
  args: unknown[][];
  stdout: string;
  /** Index of the call waiting for its result, and its id. */
  next: number;
  callId: string;
}

const encoder = new TextEncoder();
const hex32 = () => crypto.randomUUID().replaceAll("-", "");
const apiKey = Deno.args[0] ?? "";

function send(executionId: string, stream: Stream): void {
  if (stream.next >= stream.args.length) {
    const end = { type: "success", stdout: stream.stdout, stderr: "" };
    stream.controller.enqueue(encoder.encode(`data: ${JSON.stringify(end)}\n\n`));
    stream.controller.close();
    streams.delete(executionId);
    return;
  }
  stream.callId = hex32();
  const call = {
    type: "tool_call",
    id: stream.callId,
    execution_id: executionId,
    tool_name: stream.toolName,
    args: stream.args[stream.next],
    kwargs: {},
  };
  stream.controller.enqueue(encoder.encode(`data: ${JSON.stringify(call)}\n\n`));
}

const streams = new Map<string, Stream>();

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) => console.error(`echo listening on http://${hostname}:${port}`),
}, async (request) => {
  if (request.headers.get("x-progtc-api-key") !== apiKey) {
    return Response.json({ detail: "Unauthorized" }, { status: 401 });
  }
  const { pathname } = new URL(request.url);
  if (request.method === "POST" && pathname === "/execute-code") {
    const body = await request.json() as {
      tool_names: string[];
      echo?: { args?: unknown[][]; stdout?: string };
    };
    const id = hex32();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const state: Stream = {
          controller,
          toolName: body.tool_names[0] ?? "echo",
          args: body.echo?.args ?? [],
          stdout: body.echo?.stdout ?? "",
          next: 0,
          callId: "",
        };
        streams.set(id, state);
        send(id, state);
      },
      cancel: () => void streams.delete(id),
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
  if (request.method === "POST" && pathname === "/tool-results") {
    const body = await request.json() as {
      execution_id: string;
      tool_call_id: string;
      result: unknown;
    };
    const stream = streams.get(body.execution_id);
    if (stream && stream.callId === body.tool_call_id) {
      if (JSON.stringify(body.result) !== JSON.stringify(stream.args[stream.next]![0])) {
        const end = { type: "runtime_error", stdout: "", stderr: "echo: wrong result\n" };
        stream.controller.enqueue(encoder.encode(`data: ${JSON.stringify(end)}\n\n`));
        stream.controller.close();
        streams.delete(body.execution_id);
      } else {
        stream.next++;
        send(body.execution_id, stream);
      }
    }
    return Response.json(null);
  }
  return new Response(null, { status: 404 });
});
