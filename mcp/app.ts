/**
 * `progtc mcp` put together: the backend where programs run, the upstream servers (started at
 * once, each on its own: one that fails is reported and the others serve), and the catalogue of
 * their tools, which every client session shares.
 *
 * @module
 */
import { type Backend, embeddedBackend, remoteBackend } from "./backend.ts";
import { Catalog } from "./catalog.ts";
import type { McpConfig } from "./config.ts";
import type { ProgramLanguage } from "./declarations.ts";
import type { FrontOptions } from "./server.ts";
import { Upstream } from "./upstream.ts";

/** Options of {@linkcode startMcp}. */
export interface McpOptions {
  config: McpConfig;
  /** The language of programs that name none. */
  language: ProgramLanguage;
  /** A remote progtc server instead of the embedded one. */
  remote?: { url: string; apiKey: string };
  /** How long an upstream call may take inside a program, in ms. */
  toolCallTimeoutMs: number;
  /** How long a program may run, in ms. */
  codeExecutionTimeoutMs: number;
  /** The budget of an `execute` answer, in characters. */
  maxResultChars: number;
  /** Milliseconds an upstream server may take to start and list its tools. */
  startTimeoutMs: number;
  /** Where log lines go (stderr). */
  log: (line: string) => void;
  /** Also log the embedded server's lines and the upstream servers' stderr. */
  verbose: boolean;
  /** The version reported to clients. */
  version: string;
}

/** A started `progtc mcp`. */
export interface McpApp extends AsyncDisposable {
  readonly backend: Backend;
  readonly catalog: Catalog;
  readonly upstreams: Upstream[];
  /** What each client session is given. */
  readonly front: FrontOptions;
  close(): Promise<void>;
}

/**
 * Starts the backend and the upstream servers. Throws (a start mistake) when two servers or
 * tools map to one name, or the remote server does not answer.
 */
export async function startMcp(options: McpOptions): Promise<McpApp> {
  const { log } = options;
  const changed = (upstream: Upstream) => {
    if (upstream.state === "stopped") log(`server ${upstream.name} stopped: ${upstream.error}`);
    catalog.refresh();
  };
  const upstreams: Upstream[] = options.config.servers.map((config) => {
    const upstream: Upstream = new Upstream(config, {
      startTimeoutMs: options.startTimeoutMs,
      onStderr: (line) => options.verbose && log(`[${config.name}] ${line}`),
      onChange: () => changed(upstream),
    });
    return upstream;
  });
  const catalog = new Catalog(upstreams, log);
  const backend = options.remote
    ? remoteBackend(options.remote.url, options.remote.apiKey)
    : embeddedBackend({
      toolCallTimeoutMs: options.toolCallTimeoutMs,
      codeExecutionTimeoutMs: options.codeExecutionTimeoutMs,
      language: options.language,
      log: (line) => options.verbose && log(line),
    });
  const started = await Promise.allSettled([backend, ...upstreams.map((u) => u.start())]);
  const close = async () => {
    await Promise.all(upstreams.map((u) => u.close()));
    await backend.then((b) => b.close(), () => {});
  };
  try {
    if (started[0]!.status === "rejected") throw started[0]!.reason;
    catalog.refresh(true);
  } catch (error) {
    await close();
    throw error;
  }
  for (const upstream of upstreams) {
    log(
      upstream.state === "ready"
        ? `server ${upstream.name}: ${upstream.tools.length} tools`
        : `server ${upstream.name} failed to start: ${upstream.error}`,
    );
  }
  const front: FrontOptions = {
    backend: await backend,
    catalog,
    language: options.language,
    maxResultChars: options.maxResultChars,
    ...(options.remote ? {} : { callTimeoutMs: options.toolCallTimeoutMs }),
    version: options.version,
  };
  return {
    backend: front.backend,
    catalog,
    upstreams,
    front,
    close,
    [Symbol.asyncDispose]: close,
  };
}
