/**
 * Where `execute` runs programs: an embedded progtc server (`serve()` on 127.0.0.1, a free port
 * and a random key of its own; nothing else to start), or a remote progtc server (`--server URL`,
 * its key from `PROGTC_API_KEY`). Either way programs reach it through `ProgtcClient`, on the wire
 * protocol only, so a remote server may be any server of the reference's protocol.
 *
 * @module
 */
import { ProgtcClient } from "../client/mod.ts";
import type { Language } from "../protocol.ts";
import { type ProgtcServer, serve } from "../server/serve.ts";

/** Where programs run. */
export interface Backend extends AsyncDisposable {
  /** The client of the progtc server. */
  readonly client: ProgtcClient;
  /** `embedded` or the remote server's URL. */
  readonly where: string;
  /** Stops the embedded server (a remote one is left alone). */
  close(): Promise<void>;
}

/** Options of the embedded server. */
export interface EmbeddedOptions {
  /** How long an upstream tool call may take before the program sees a TimeoutError, in ms. */
  toolCallTimeoutMs: number;
  /** How long a program may run, in ms. */
  codeExecutionTimeoutMs: number;
  /** The language whose sandbox starts with the server (the other starts on first use). */
  language: "typescript" | "python";
  /** Receives the server's log lines. */
  log: (line: string) => void;
}

/** Starts an embedded progtc server. */
export async function embeddedBackend(options: EmbeddedOptions): Promise<Backend> {
  const apiKey = crypto.randomUUID().replaceAll("-", "");
  const server: ProgtcServer = await serve({
    apiKey,
    host: "127.0.0.1",
    port: 0,
    // One person's programs: one warm sandbox of the default language is enough.
    poolSize: 1,
    ...(options.language === "python" ? { pythonPoolSize: 1 } : {}),
    language: options.language as Language,
    toolCallTimeoutMs: options.toolCallTimeoutMs,
    codeExecutionTimeoutMs: options.codeExecutionTimeoutMs,
    log: options.log,
  });
  const client = new ProgtcClient({ baseUrl: server.url, apiKey });
  const close = () => server.shutdown();
  return { client, where: "embedded", close, [Symbol.asyncDispose]: close };
}

/** The remote progtc server does not answer. */
export class BackendUnreachable extends Error {
  /** An error saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "BackendUnreachable";
  }
}

/**
 * A remote progtc server; throws a {@linkcode BackendUnreachable} when it does not answer
 * `/ping` within `timeoutMs`.
 */
export async function remoteBackend(
  url: string,
  apiKey: string,
  timeoutMs = 10_000,
): Promise<Backend> {
  const client = new ProgtcClient({ baseUrl: url, apiKey });
  if (!await client.ping({ timeoutMs })) {
    throw new BackendUnreachable(`the progtc server at ${url} does not answer /ping`);
  }
  const close = () => Promise.resolve();
  return { client, where: url, close, [Symbol.asyncDispose]: close };
}
