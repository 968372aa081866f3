/**
 * One upstream MCP server: started (stdio) or reached (Streamable HTTP) with the MCP SDK's
 * client, its tools listed page by page and listed again on `tools/list_changed`, its calls
 * made with the caller's abort signal and progress callback. A server that fails to start, or
 * stops later, says why (`state`, `error`); calls to it then fail at once with that reason.
 *
 * @module
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, Progress, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { UpstreamConfig } from "./config.ts";

/** The most tools one server may list; past it the listing is refused. */
export const MAX_TOOLS_PER_SERVER = 1000;
/** The most pages one listing may take. */
const MAX_PAGES = 100;
/** Lines of a stdio server's stderr kept to explain why it stopped. */
const STDERR_LINES = 5;

/** Where an upstream server is. */
export type UpstreamState = "starting" | "ready" | "failed" | "stopped";

/** Options of {@linkcode Upstream}. */
export interface UpstreamOptions {
  /** Seconds to connect and list the tools at start. */
  startTimeoutMs: number;
  /** Receives each line the server writes to stderr (stdio servers). */
  onStderr?: (line: string) => void;
  /** Called when the tool list changed (after a new listing) or the server stopped. */
  onChange?: () => void;
}

/** The options of one call. */
export interface UpstreamCallOptions {
  /** Aborts the call (the server gets `notifications/cancelled`). */
  signal?: AbortSignal;
  /** Receives the server's progress notifications for the call. */
  onProgress?: (progress: Progress) => void;
}

/** One upstream server and its tools. */
export class Upstream {
  readonly config: UpstreamConfig;
  #options: UpstreamOptions;
  #client: Client | undefined;
  #state: UpstreamState = "starting";
  #error: string | undefined;
  #tools: Tool[] = [];
  #stderr: string[] = [];
  #closing = false;

  constructor(config: UpstreamConfig, options: UpstreamOptions) {
    this.config = config;
    this.#options = options;
  }

  /** Its name in the config. */
  get name(): string {
    return this.config.name;
  }

  /** Where it is. */
  get state(): UpstreamState {
    return this.#state;
  }

  /** Why it failed or stopped. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Its tools, as last listed. */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** The process id of a stdio server (for tests and logs). */
  get pid(): number | undefined {
    const transport = this.#client?.transport;
    return transport instanceof StdioClientTransport ? transport.pid ?? undefined : undefined;
  }

  /** Connects and lists the tools; never throws (a failure is `state: "failed"`). */
  async start(): Promise<void> {
    const client = new Client({ name: "progtc-mcp", version: "1.0.0" }, {
      listChanged: {
        tools: {
          autoRefresh: false,
          onChanged: () => this.#relist(),
        },
      },
    });
    this.#client = client;
    const timeout = AbortSignal.timeout(this.#options.startTimeoutMs);
    try {
      const transport = this.#transport();
      await abortable(client.connect(transport, { signal: timeout }), timeout);
      client.onclose = () => this.#stopped();
      this.#tools = await abortable(this.#list(timeout), timeout);
      this.#state = "ready";
      // What it wrote while starting (a banner) does not explain a later stop.
      this.#stderr = [];
    } catch (error) {
      this.#state = "failed";
      this.#error = this.#explain(
        timeout.aborted ? `no answer within ${this.#options.startTimeoutMs / 1000} s` : error,
      );
      await client.close().catch(() => {});
    }
  }

  /** Calls tool `name` (its upstream name). Throws when the server is not running. */
  async call(
    name: string,
    args: Record<string, unknown>,
    options: UpstreamCallOptions = {},
  ): Promise<CallToolResult> {
    const client = this.#client;
    if (this.#state !== "ready" || !client) {
      throw new Error(`server ${this.name} is not running: ${this.#error ?? this.#state}`);
    }
    try {
      return await client.callTool({ name, arguments: args }, undefined, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onprogress: options.onProgress } : {}),
        timeout: 24 * 3600 * 1000, // bounded by progtc's tool call timeout, which aborts
        resetTimeoutOnProgress: true,
      }) as CallToolResult;
    } catch (error) {
      if (this.#state !== "ready") {
        throw new Error(`server ${this.name} stopped during the call: ${this.#error}`);
      }
      throw error;
    }
  }

  /** Closes the connection (a stdio server's process ends). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#client?.close().catch(() => {});
  }

  #transport(): Transport {
    const transport = this.config.transport;
    if (transport.kind === "http") {
      return new StreamableHTTPClientTransport(new URL(transport.url), {
        requestInit: { headers: transport.headers },
      });
    }
    const stdio = new StdioClientTransport({
      command: transport.command,
      args: transport.args,
      env: { ...defaultEnvironment(), ...transport.env },
      ...(transport.cwd !== undefined ? { cwd: transport.cwd } : {}),
      stderr: "pipe",
    });
    this.#readStderr(stdio);
    return stdio;
  }

  #readStderr(transport: StdioClientTransport): void {
    let partial = "";
    transport.stderr?.on("data", (chunk: Uint8Array | string) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        this.#stderr.push(line);
        if (this.#stderr.length > STDERR_LINES) this.#stderr.shift();
        this.#options.onStderr?.(line);
      }
    });
  }

  async #list(signal?: AbortSignal): Promise<Tool[]> {
    const client = this.#client!;
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await client.listTools(
        cursor === undefined ? {} : { cursor },
        signal ? { signal } : {},
      );
      tools.push(...answer.tools);
      if (tools.length > MAX_TOOLS_PER_SERVER) {
        throw new Error(`it lists more than ${MAX_TOOLS_PER_SERVER} tools`);
      }
      cursor = answer.nextCursor;
      if (!cursor) return tools;
    }
    throw new Error(`its tool list has more than ${MAX_PAGES} pages`);
  }

  async #relist(): Promise<void> {
    if (this.#state !== "ready") return;
    try {
      this.#tools = await this.#list(AbortSignal.timeout(this.#options.startTimeoutMs));
      this.#options.onChange?.();
    } catch (error) {
      this.#options.onStderr?.(`listing its tools again failed: ${this.#explain(error)}`);
    }
  }

  #stopped(): void {
    if (this.#closing || this.#state !== "ready") return;
    this.#state = "stopped";
    this.#error = this.#explain("the connection closed");
    this.#options.onChange?.();
  }

  /** A one-line reason, with what a stdio server last wrote to stderr. */
  #explain(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    const transport = this.config.transport;
    let reason = text.split("\n")[0]!;
    if (transport.kind === "stdio" && /ENOENT|NotFound|No such file/i.test(text)) {
      reason = `cannot run ${transport.command}: not found`;
    }
    const last = this.#stderr.at(-1);
    return last ? `${reason} (stderr: ${last.slice(0, 200)})` : reason;
  }
}

/** Rejects with the signal's reason when it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** The environment a stdio server inherits, as desktop clients give it (the SDK's list). */
function defaultEnvironment(): Record<string, string> {
  const names = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "DENO_DIR", "TMPDIR"];
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined && !value.startsWith("()")) env[name] = value;
  }
  return env;
}
