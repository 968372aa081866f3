/**
 * `progtc mcp`: its flags, and the run. Everything it says goes to stderr (stdout is the MCP
 * channel on stdio); every start mistake is one line naming the flag, the variable or the config
 * key, and exit code 2.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startMcp } from "./app.ts";
import { BackendUnreachable } from "./backend.ts";
import { ConfigError, loadConfig } from "./config.ts";
import type { ProgramLanguage } from "./declarations.ts";
import { serveHttp } from "./http.ts";
import { NameClash } from "./naming.ts";
import { DEFAULT_MAX_RESULT_CHARS } from "./result.ts";
import { serveStdio } from "./stdio.ts";

/** The help of `progtc mcp`. */
export const MCP_HELP = `progtc mcp: a code-mode MCP server in front of MCP servers

Usage:
  progtc mcp --config servers.json [options]

The MCP servers of the config ("mcpServers", as Claude Desktop, Claude Code and Cursor write it)
become namespaces of the "tools" module of programs that the model runs with one tool,
execute (TypeScript or Python, in a sandbox); search_tools finds their declarations.

Options (defaults in brackets):
  --config <file>               The MCP servers (required)
  --http <[host:]port>          Serve Streamable HTTP at http://host:port/mcp instead of stdio,
                                behind PROGTC_API_KEY as a bearer token [stdio; host 127.0.0.1]
  --server <url>                Run programs on this progtc server, its key from
                                PROGTC_API_KEY [an embedded server]
  --language <name>             Language of programs that name none: typescript or python
                                [typescript]
  --tool-call-timeout <s>       Seconds an upstream call may take inside a program (embedded
                                server) [60]
  --code-execution-timeout <s>  Seconds a program may run (embedded server) [300]
  --max-result-chars <n>        Characters of an execute answer; more is cut [${DEFAULT_MAX_RESULT_CHARS}]
  --start-timeout <s>           Seconds an MCP server may take to start and list its tools [30]
  --verbose                     Also log the MCP servers' stderr and each program
  -h, --help                    This text
`;

const OPTIONS = {
  config: { type: "string" },
  http: { type: "string" },
  server: { type: "string" },
  language: { type: "string" },
  "tool-call-timeout": { type: "string" },
  "code-execution-timeout": { type: "string" },
  "max-result-chars": { type: "string" },
  "start-timeout": { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The flags of `progtc mcp`, without their dashes. */
export const MCP_FLAGS: readonly string[] = Object.keys(OPTIONS);

/** A start mistake: one line, exit code 2. */
export class McpUsageError extends Error {
  /** A usage error saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "McpUsageError";
  }
}

/** What the flags ask for. */
export interface McpArgs {
  config: string;
  http?: { hostname: string; port: number };
  server?: string;
  language: ProgramLanguage;
  toolCallTimeoutMs: number;
  codeExecutionTimeoutMs: number;
  maxResultChars: number;
  startTimeout: number;
  verbose: boolean;
  help: boolean;
}

/**
 * Parses the flags of `progtc mcp`; throws an {@linkcode McpUsageError} naming the flag.
 *
 * @example
 * ```ts
 * import { parseMcpArgs } from "./cli.ts";
 * const args = parseMcpArgs(["--config", "servers.json", "--http", "8080"]);
 * console.assert(args.http?.port === 8080 && args.http.hostname === "127.0.0.1");
 * ```
 */
export function parseMcpArgs(args: string[]): McpArgs {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new McpUsageError((error as Error).message.split("\n")[0]!);
  }
  const help = values.help === true;
  if (!help && values.config === undefined) {
    throw new McpUsageError("--config is required: the file that lists the MCP servers");
  }
  const language = values.language ?? "typescript";
  if (language !== "typescript" && language !== "python") {
    throw new McpUsageError(`Invalid value for --language: ${language} (typescript or python)`);
  }
  if (values.server !== undefined && !/^https?:\/\/[^\s]+$/.test(values.server)) {
    throw new McpUsageError(`Invalid value for --server: ${values.server} (an http(s) URL)`);
  }
  for (const flag of ["tool-call-timeout", "code-execution-timeout"] as const) {
    if (values.server !== undefined && values[flag] !== undefined) {
      throw new McpUsageError(`--${flag} is for the embedded server: set it on the --server`);
    }
  }
  return {
    config: values.config ?? "",
    ...(values.http !== undefined ? { http: hostPort(values.http) } : {}),
    ...(values.server !== undefined ? { server: values.server } : {}),
    language,
    toolCallTimeoutMs: bounded(values, "tool-call-timeout", 60, 0.1, 3600) * 1000,
    codeExecutionTimeoutMs: bounded(values, "code-execution-timeout", 300, 0.1, 86_400) * 1000,
    maxResultChars: bounded(values, "max-result-chars", DEFAULT_MAX_RESULT_CHARS, 1000, 1e7),
    startTimeout: bounded(values, "start-timeout", 30, 0.1, 600),
    verbose: values.verbose === true,
    help,
  };
}

function bounded(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new McpUsageError(`Invalid value for --${name}: ${raw} (from ${min} to ${max})`);
  }
  return value;
}

function hostPort(text: string): { hostname: string; port: number } {
  const match = text.match(/^(?:(\[[0-9a-fA-F:]+\]|[^:\s]+):)?(\d+)$/);
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new McpUsageError(`Invalid value for --http: ${text} ([host:]port)`);
  }
  return { hostname: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

/** Runs `progtc mcp`; resolves with the exit code. */
export async function mcpMain(args: string[], version: string): Promise<number> {
  const log = (line: string) => console.error(`progtc mcp: ${line}`);
  let parsed: McpArgs;
  let app;
  try {
    parsed = parseMcpArgs(args);
    if (parsed.help) {
      console.error(MCP_HELP);
      return 0;
    }
    const apiKey = Deno.env.get("PROGTC_API_KEY") ?? "";
    if (parsed.server !== undefined && apiKey === "") {
      throw new McpUsageError("--server needs the server's key in PROGTC_API_KEY");
    }
    const config = await loadConfig(parsed.config, Deno.env.toObject());
    app = await startMcp({
      config,
      language: parsed.language,
      ...(parsed.server !== undefined ? { remote: { url: parsed.server, apiKey } } : {}),
      toolCallTimeoutMs: parsed.toolCallTimeoutMs,
      codeExecutionTimeoutMs: parsed.codeExecutionTimeoutMs,
      maxResultChars: parsed.maxResultChars,
      startTimeoutMs: parsed.startTimeout * 1000,
      log,
      verbose: parsed.verbose,
      version,
    });
  } catch (error) {
    if (error instanceof McpUsageError || error instanceof ConfigError) {
      console.error(`progtc mcp: ${error.message}`);
      return 2;
    }
    if (error instanceof BackendUnreachable) {
      console.error(`progtc mcp: --server: ${error.message}`);
      return 2;
    }
    if (error instanceof NameClash) {
      console.error(`progtc mcp: ${parsed!.config}: ${error.message}`);
      return 2;
    }
    console.error(`progtc mcp: cannot start: ${(error as Error).message ?? error}`);
    return 1;
  }
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop.resolve());
  }
  try {
    if (parsed.http) {
      let key = Deno.env.get("PROGTC_API_KEY") ?? "";
      if (key === "") {
        key = crypto.randomUUID().replaceAll("-", "");
        log(`no PROGTC_API_KEY: generated a bearer token for this run: ${key}`);
      }
      const front = serveHttp(app.front, {
        ...parsed.http,
        apiKey: key,
        onListen: (url) => log(`listening on ${url} (${app.backend.where} progtc server)`),
      });
      await stop.promise;
      await front.close();
    } else {
      log(`serving on stdio (${app.backend.where} progtc server)`);
      await Promise.race([serveStdio(app.front), stop.promise]);
    }
  } finally {
    await app.close();
  }
  return 0;
}
