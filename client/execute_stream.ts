/**
 * The streaming execution: a program sent to `/execute-code`, its event stream read frame by
 * frame, each tool call run as it arrives and its result posted to `/tool-results` (retried on
 * a server error), output handed on, until the result. Runtime-neutral: only `fetch` and web
 * streams.
 *
 * @module
 */
import type { ExecuteCodeResult, Language, OutputFrame, ToolCall } from "../protocol.ts";
import { ProgtcHttpError, ProgtcProtocolError } from "./errors.ts";
import { parseFrame } from "./frames.ts";
import type { Post } from "./post.ts";
import { readEvents } from "./sse.ts";
import { runTool, type Tool } from "./tools.ts";

/** Options of {@linkcode ProgtcClient.executeCode}. */
export interface ExecuteCodeOptions {
  /** The program. */
  code: string;
  /** The tools the program may call, by name: functions, or tools made with `defineTool`. */
  tools: Record<string, Tool>;
  /**
   * The program's language.
   * @default {the server's default language}
   */
  language?: Language;
  /** Aborts the execution: the server stops the program. */
  signal?: AbortSignal;
  /** Receives output while the program runs (asks the server for output frames). */
  onOutput?: (output: OutputFrame) => void;
  /** Receives every tool call before its tool runs. */
  onToolCall?: (call: ToolCall) => void;
  /**
   * Return the program's return value as `value`: its `export default` (TypeScript and
   * JavaScript), or the value of its last expression (Python).
   * @default {false}
   */
  returnValue?: boolean;
  /**
   * Run in a session: `"new"`, `"new:<id>"` or its id (what {@linkcode ProgtcClient.session}
   * sends for you).
   */
  session?: string;
}

/** What a streaming execution needs of its client: its `POST`, and its own headers. */
export interface StreamClient {
  /** POSTs to the client's server. */
  post: Post;
  /** The headers the client sends on every request (its key, the ones it was given). */
  headers: Record<string, string>;
}

/**
 * Runs a program and its tool calls with extra `headers`; resolves with the result, and the
 * headers that reach the program's instance (`headers` and the response's affinity cookies).
 */
export async function executeStream(
  client: StreamClient,
  options: ExecuteCodeOptions,
  headers: Record<string, string>,
): Promise<{ result: ExecuteCodeResult; affinity: Record<string, string> }> {
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const body: Record<string, unknown> = {
    code: options.code,
    tool_names: Object.keys(options.tools),
  };
  if (options.language) body.language = options.language;
  if (options.onOutput) body.stream_output = true;
  if (options.returnValue) body.return_value = true;
  if (options.session) body.session = options.session;
  const response = await client.post("/execute-code", body, signal, headers);
  if (!response.ok || !response.body) throw await ProgtcHttpError.from(response);
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    await response.body.cancel();
    throw new ProgtcProtocolError("Expected an event stream from /execute-code");
  }
  // A load balancer's affinity cookie (HAProxy `cookie ... insert`, ingress affinity) must
  // reach /tool-results so they go to the instance running this execution.
  const affinity = {
    ...headers,
    ...affinityHeaders(response.headers, { ...client.headers, ...headers }),
  };
  let failure: unknown;
  try {
    for await (const data of readEvents(response.body)) {
      const frame = parseFrame(data);
      switch (frame.type) {
        case "tool_call":
          options.onToolCall?.(frame);
          runAndPost(client.post, frame, options.tools, signal, affinity).catch((error) => {
            failure ??= error;
            abort.abort(error);
          });
          break;
        case "stdout":
        case "stderr":
          options.onOutput?.(frame);
          break;
        default:
          return { result: frame, affinity };
      }
    }
  } catch (error) {
    throw failure ?? error;
  }
  throw failure ?? new ProgtcProtocolError("The event stream ended without a result");
}

/**
 * Runs one call's tool and posts its result (or its error) to `/tool-results`; a server error
 * or a network failure is tried up to three times.
 */
async function runAndPost(
  post: Post,
  call: ToolCall,
  tools: Record<string, Tool>,
  signal: AbortSignal,
  affinity: Record<string, string>,
): Promise<void> {
  const outcome = await runTool(call, tools);
  const ids = `"execution_id":${JSON.stringify(call.execution_id)},"tool_call_id":${
    JSON.stringify(call.id)
  }`;
  const body = "json" in outcome
    ? `{${ids},"result":${outcome.json}}`
    : `{${ids},"error":${JSON.stringify(outcome.error)}}`;
  for (let attempt = 0;; attempt++) {
    try {
      // Ask for 409 on a result nobody waits for (the reference silently answers 200).
      const response = await post("/tool-results", body, signal, {
        ...affinity,
        prefer: "handling=strict",
      });
      // 404/409: the execution or the call is over (ended, timed out); nothing waits for us.
      // 413: the result was too large; the server told the program, which goes on.
      if (response.ok || [404, 409, 413].includes(response.status)) {
        await response.body?.cancel();
        return;
      }
      if (response.status < 500 || attempt >= 2) throw await ProgtcHttpError.from(response);
      await response.body?.cancel();
    } catch (error) {
      if (signal.aborted || error instanceof ProgtcHttpError || attempt >= 2) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
  }
}

/**
 * A `cookie` header with the cookies an `/execute-code` response set (`name=value` of each
 * `Set-Cookie`), after any the client was given; none when it set none. Browsers hide
 * `Set-Cookie` and send cookies themselves.
 */
function affinityHeaders(
  response: Headers,
  headers: Record<string, string>,
): Record<string, string> {
  const set = typeof response.getSetCookie === "function" ? response.getSetCookie() : [];
  const cookies = set.map((line) => line.split(";", 1)[0]!.trim()).filter((c) => c.includes("="));
  if (cookies.length === 0) return {};
  const given = Object.entries(headers).find(([name]) => name.toLowerCase() === "cookie")?.[1];
  return { cookie: [given, ...cookies].filter(Boolean).join("; ") };
}
