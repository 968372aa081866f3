/**
 * The one raw client that drives every server the same way (not our `ProgtcClient`): `POST
 * /execute-code` with `{code, tool_names}` (plus the target's extra fields), read the event
 * stream (`data: <json>` frames, `:` comments) to its end, answer each `tool_call` frame with
 * `POST /tool-results` `{execution_id, tool_call_id, result}` as it arrives, and record what came
 * and when. {@linkcode expectSuccess} checks the result, so a broken server cannot produce good
 * numbers. Deno's fetch keeps connections alive.
 *
 * @module
 */

/** Where to send requests. */
export interface Endpoint {
  url: string;
  apiKey: string;
}

/** A `tool_call` frame as it reached the client. */
export interface ToolCall {
  id: string;
  execution_id: string;
  tool_name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** performance.now() when the frame was parsed. */
  at: number;
}

/** What one execution looked like from the client. */
export interface Run {
  status: number;
  /** performance.now() before the request, and when the terminal frame was parsed. */
  started: number;
  ended: number;
  calls: ToolCall[];
  /** The first terminal frame. */
  terminal?: { type: string; stdout: string; stderr: string };
  /** Terminal frames (exactly one expected), and frames of any kind after the first. */
  terminals: number;
  afterTerminal: number;
  keepalives: number;
  /** Frames that were not JSON or of no known type, and failed `/tool-results` posts. */
  problems: string[];
}

/** Answers a tool call (may wait); the default echoes the first argument. */
export type Answer = (call: ToolCall) => unknown;

/** The terminal frame types. */
export const TERMINAL: ReadonlySet<string> = new Set([
  "success",
  "syntax_error",
  "runtime_error",
  "timeout_error",
  "determinism_error",
]);

const echoFirst: Answer = (call) => call.args[0];

function headers(endpoint: Endpoint): HeadersInit {
  return { "x-progtc-api-key": endpoint.apiKey, "content-type": "application/json" };
}

/** Splits an SSE byte stream into `data` payloads (joined) and comments. */
export async function* events(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ data: string } | { comment: string }> {
  let buffer = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) yield { comment: line };
        else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      if (data.length > 0) yield { data: data.join("\n") };
    }
  }
  if (buffer.trim() !== "") yield { data: buffer };
}

/** Runs one execution to the end of its stream. */
export async function execute(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  answer: Answer = echoFirst,
): Promise<Run> {
  const run: Run = {
    status: 0,
    started: performance.now(),
    ended: NaN,
    calls: [],
    terminals: 0,
    afterTerminal: 0,
    keepalives: 0,
    problems: [],
  };
  const response = await fetch(`${endpoint.url}/execute-code`, {
    method: "POST",
    headers: headers(endpoint),
    body: JSON.stringify(body),
  });
  run.status = response.status;
  if (!response.ok || !response.body) {
    run.problems.push(`HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
    run.ended = performance.now();
    return run;
  }
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    run.problems.push(`content-type ${response.headers.get("content-type")}`);
  }
  const posts: Promise<void>[] = [];
  for await (const event of events(response.body)) {
    if ("comment" in event) {
      run.keepalives++;
      continue;
    }
    const at = performance.now();
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(event.data);
    } catch {
      run.problems.push(`not JSON: ${event.data.slice(0, 200)}`);
      continue;
    }
    if (run.terminals > 0) run.afterTerminal++;
    if (frame.type === "tool_call") {
      const call = { ...frame, at } as unknown as ToolCall;
      run.calls.push(call);
      posts.push(respond(endpoint, call, answer, run));
    } else if (typeof frame.type === "string" && TERMINAL.has(frame.type)) {
      if (run.terminals++ === 0) {
        run.ended = at;
        run.terminal = frame as NonNullable<Run["terminal"]>;
      }
    } else run.problems.push(`unexpected frame: ${event.data.slice(0, 200)}`);
  }
  await Promise.all(posts);
  if (Number.isNaN(run.ended)) run.ended = performance.now();
  return run;
}

/** Answers `call`; a POST that fails is one of the run's problems (it is awaited only at the end). */
async function respond(endpoint: Endpoint, call: ToolCall, answer: Answer, run: Run) {
  const result = await answer(call);
  try {
    const response = await fetch(`${endpoint.url}/tool-results`, {
      method: "POST",
      headers: headers(endpoint),
      body: JSON.stringify({ execution_id: call.execution_id, tool_call_id: call.id, result }),
    });
    const text = await response.text();
    if (response.status !== 200) run.problems.push(`/tool-results ${response.status}: ${text}`);
  } catch (error) {
    const cause = error instanceof Error && error.cause ? `: ${error.cause}` : "";
    run.problems.push(`/tool-results failed: ${error}${cause}`);
  }
}

/** Why `run` is not a clean success printing `stdout` after `calls` tool calls (or undefined). */
export function fault(run: Run, stdout: string, calls = run.calls.length): string | undefined {
  const t = run.terminal;
  if (run.problems.length > 0) return run.problems.join("; ");
  if (!t) return "no terminal frame";
  if (run.terminals !== 1 || run.afterTerminal > 0) {
    return `${run.terminals} terminal frames, ${run.afterTerminal} frames after the first`;
  }
  if (t.type !== "success") return `${t.type}: ${t.stderr.slice(0, 300)}`;
  if (t.stdout !== stdout) {
    return `stdout ${JSON.stringify(t.stdout)}, expected ${JSON.stringify(stdout)}`;
  }
  if (run.calls.length !== calls) return `${run.calls.length} tool calls, expected ${calls}`;
  return undefined;
}

/** Throws unless `run` is a clean success printing `stdout`; returns it. */
export function expectSuccess(run: Run, stdout: string, what: string, calls?: number): Run {
  const why = fault(run, stdout, calls);
  if (why) throw new Error(`${what}: ${why}`);
  return run;
}

/** `POST /execute-code-step`: the JSON answer (throws on an HTTP error). */
export async function step(
  endpoint: Endpoint,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${endpoint.url}/execute-code-step`, {
    method: "POST",
    headers: headers(endpoint),
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`/execute-code-step ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Sends `/execute-code` on a raw connection and never reads the answer. */
export async function unreadExecution(endpoint: Endpoint, code: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(endpoint.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const body = JSON.stringify({ code, tool_names: [] });
  const request = `POST /execute-code HTTP/1.1\r\nhost: ${hostname}\r\n` +
    `content-type: application/json\r\nx-progtc-api-key: ${endpoint.apiKey}\r\n` +
    `content-length: ${new TextEncoder().encode(body).byteLength}\r\n\r\n${body}`;
  await conn.write(new TextEncoder().encode(request));
  return conn;
}

/**
 * Reads what is left on `conn`: `"cut"` when the server closes it, `"complete"` when the whole
 * response came (its last chunk) and the connection stays open for the next request, `"open"`
 * when neither happens within `ms`.
 */
export async function drain(conn: Deno.TcpConn, ms: number): Promise<"cut" | "complete" | "open"> {
  const buffer = new Uint8Array(1 << 20);
  const deadline = Date.now() + ms;
  let tail = "";
  try {
    while (Date.now() < deadline) {
      const n = await Promise.race([
        conn.read(buffer),
        new Promise<"wait">((resolve) => setTimeout(() => resolve("wait"), deadline - Date.now())),
      ]);
      if (n === null) return "cut";
      if (n === "wait") break;
      tail = (tail + new TextDecoder().decode(buffer.subarray(0, n))).slice(-16);
    }
  } catch {
    return "cut"; // Reset by the server.
  }
  return tail.endsWith("\r\n0\r\n\r\n") ? "complete" : "open";
}
