/**
 * The config file of `progtc mcp`: the `mcpServers` shape Claude Desktop, Claude Code and Cursor
 * use (`command`/`args`/`env` for a server on stdio, `url`/`headers` for one on Streamable
 * HTTP), plus two keys of ours per server: `confirm` (tools that ask the person first, besides
 * those annotated `destructiveHint`) and `allowUnconfirmed` (tools that run without asking when
 * the MCP client cannot ask). `${VAR}` and `${VAR:-default}` in strings read the environment.
 *
 * Every mistake is a {@linkcode ConfigError} naming the file and the key, e.g.
 * `servers.json: mcpServers.memory.args: must be an array of strings`.
 *
 * @module
 */

/** A config mistake: one line, naming the file and the key. */
export class ConfigError extends Error {
  /** A config error saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** How to reach one upstream server. */
export type UpstreamTransport =
  | { kind: "stdio"; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { kind: "http"; url: string; headers: Record<string, string> };

/** One upstream server of the config. */
export interface UpstreamConfig {
  /** Its key in `mcpServers`. */
  name: string;
  /** How to start or reach it. */
  transport: UpstreamTransport;
  /** Tools (upstream names) that ask the person first, besides the destructive ones. */
  confirm: string[];
  /** Tools that run without asking when the client cannot ask; `true`: all of this server's. */
  allowUnconfirmed: boolean | string[];
}

/** The config file, checked. */
export interface McpConfig {
  /** The upstream servers, in the file's order (`disabled` ones left out). */
  servers: UpstreamConfig[];
}

/** The largest config file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The most upstream servers one config may name. */
export const MAX_SERVERS = 64;

const SERVER_KEYS = new Set([
  "type",
  "command",
  "args",
  "env",
  "cwd",
  "url",
  "headers",
  "confirm",
  "allowUnconfirmed",
  "disabled",
]);

/** Reads and checks the config file at `path`; `env` fills `${VAR}`. */
export async function loadConfig(
  path: string,
  env: Record<string, string | undefined>,
): Promise<McpConfig> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(`${path}: larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${path}: cannot read it (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not JSON (${(error as Error).message})`);
  }
  return parseConfig(json, env, path);
}

/**
 * Checks a parsed config; `where` names it in errors.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   { mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] } } },
 *   {},
 * );
 * console.assert(config.servers[0]!.transport.kind === "stdio");
 * ```
 */
export function parseConfig(
  json: unknown,
  env: Record<string, string | undefined>,
  where = "config",
): McpConfig {
  if (!isRecord(json)) throw new ConfigError(`${where}: must be a JSON object`);
  const servers = json.mcpServers;
  if (!isRecord(servers)) {
    throw new ConfigError(`${where}: mcpServers: must be an object of servers by name`);
  }
  const names = Object.keys(servers);
  if (names.length > MAX_SERVERS) {
    throw new ConfigError(`${where}: mcpServers: more than ${MAX_SERVERS} servers`);
  }
  const result: UpstreamConfig[] = [];
  for (const name of names) {
    const at = `${where}: mcpServers.${name}`;
    if (name.trim() === "") throw new ConfigError(`${at}: a server needs a name`);
    const server = servers[name];
    if (!isRecord(server)) throw new ConfigError(`${at}: must be an object`);
    for (const key of Object.keys(server)) {
      if (!SERVER_KEYS.has(key)) {
        throw new ConfigError(`${at}.${key}: unknown key (${[...SERVER_KEYS].join(", ")})`);
      }
    }
    if (server.disabled !== undefined && typeof server.disabled !== "boolean") {
      throw new ConfigError(`${at}.disabled: must be true or false`);
    }
    if (server.disabled === true) continue;
    const expand = (value: string, key: string) => expandVars(value, env, `${at}.${key}`);
    result.push({
      name,
      transport: transportOf(server, at, expand),
      confirm: strings(server.confirm, `${at}.confirm`),
      allowUnconfirmed: typeof server.allowUnconfirmed === "boolean"
        ? server.allowUnconfirmed
        : strings(server.allowUnconfirmed, `${at}.allowUnconfirmed`),
    });
  }
  return { servers: result };
}

function transportOf(
  server: Record<string, unknown>,
  at: string,
  expand: (value: string, key: string) => string,
): UpstreamTransport {
  const type = server.type;
  if (type !== undefined && !["stdio", "http", "streamable-http"].includes(type as string)) {
    throw new ConfigError(
      `${at}.type: ${JSON.stringify(type)} is not supported (stdio, http or streamable-http)`,
    );
  }
  const hasCommand = server.command !== undefined;
  const hasUrl = server.url !== undefined;
  if (hasCommand === hasUrl) {
    throw new ConfigError(`${at}: give either command (stdio) or url (Streamable HTTP)`);
  }
  if (hasCommand) {
    if (type !== undefined && type !== "stdio") {
      throw new ConfigError(`${at}.type: ${type} with a command`);
    }
    if (typeof server.command !== "string" || server.command === "") {
      throw new ConfigError(`${at}.command: must be a non-empty string`);
    }
    for (const key of ["url", "headers"]) {
      if (server[key] !== undefined) throw new ConfigError(`${at}.${key}: not with a command`);
    }
    const cwd = server.cwd;
    if (cwd !== undefined && typeof cwd !== "string") {
      throw new ConfigError(`${at}.cwd: must be a string`);
    }
    return {
      kind: "stdio",
      command: expand(server.command, "command"),
      args: strings(server.args, `${at}.args`).map((arg, i) => expand(arg, `args[${i}]`)),
      env: mapOf(server.env, `${at}.env`, (value, key) => expand(value, `env.${key}`)),
      ...(cwd !== undefined ? { cwd: expand(cwd, "cwd") } : {}),
    };
  }
  if (type === "stdio") throw new ConfigError(`${at}.type: stdio with a url`);
  if (typeof server.url !== "string") throw new ConfigError(`${at}.url: must be a string`);
  for (const key of ["args", "env", "cwd"]) {
    if (server[key] !== undefined) throw new ConfigError(`${at}.${key}: not with a url`);
  }
  const url = expand(server.url, "url");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${at}.url: not a URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(`${at}.url: must be http: or https:, not ${parsed.protocol}`);
  }
  return {
    kind: "http",
    url,
    headers: mapOf(
      server.headers,
      `${at}.headers`,
      (value, key) => expand(value, `headers.${key}`),
    ),
  };
}

/** `${VAR}` and `${VAR:-default}` from `env`; a missing variable without a default is an error. */
export function expandVars(
  value: string,
  env: Record<string, string | undefined>,
  at: string,
): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name, fallback) => {
    const found = env[name];
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${at}: the environment variable ${name} is not set`);
  });
}

function strings(value: unknown, at: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new ConfigError(`${at}: must be an array of strings`);
  }
  return value;
}

function mapOf(
  value: unknown,
  at: string,
  map: (value: string, key: string) => string,
): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value) || !Object.values(value).every((item) => typeof item === "string")) {
    throw new ConfigError(`${at}: must be an object of strings`);
  }
  return Object.fromEntries(
    Object.entries(value as Record<string, string>).map(([key, item]) => [key, map(item, key)]),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
