/**
 * Test kit of `progtc mcp`: a config with the real MCP servers from npm (server-everything,
 * server-memory, server-filesystem on a temporary directory), the MCP TypeScript SDK's client
 * that answers elicitations as a `Person`, and helpers; the scenarios are in `_mcp_scenarios.ts`.
 *
 * @module
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  type CallToolResult,
  ElicitRequestSchema,
  type ElicitResult,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";

/** The root of the repository. */
export const ROOT = new URL("../", import.meta.url).pathname;

const NPM_SERVERS = {
  everything: "npm:@modelcontextprotocol/server-everything@2026.8.31",
  memory: "npm:@modelcontextprotocol/server-memory@2026.8.31",
  filesystem: "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
};

/** A temporary directory with a config of the three npm servers (and `extra` servers). */
export interface McpFixture extends AsyncDisposable {
  dir: string;
  /** The directory server-filesystem may use. */
  files: string;
  /** The config file. */
  config: string;
}

/** Writes the config of the three npm servers (run with Deno from the npm cache) and `extra`. */
export async function mcpFixture(extra: Record<string, unknown> = {}): Promise<McpFixture> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-mcp-" });
  const files = `${dir}/files`;
  await Deno.mkdir(files);
  const run = (spec: string, args: string[] = []) => ({
    command: Deno.execPath(),
    args: ["run", "-A", "--quiet", spec, ...args],
  });
  const config = `${dir}/servers.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      mcpServers: {
        everything: run(NPM_SERVERS.everything),
        memory: { ...run(NPM_SERVERS.memory), env: { MEMORY_FILE_PATH: `${dir}/memory.jsonl` } },
        filesystem: run(NPM_SERVERS.filesystem, [files]),
        ...extra,
      },
    }),
  );
  return {
    dir,
    files,
    config,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** How the test's person answers approvals, and what they were asked. */
export class Person {
  answers: ElicitResult["action"][] = [];
  asked: string[] = [];

  /** What the person answers to `message`: the next of `answers`, else decline. */
  answer(message: string): ElicitResult["action"] {
    this.asked.push(message);
    return this.answers.shift() ?? "decline";
  }

  /** Lets `client` answer elicitation requests as this person. */
  attach(client: Client): void {
    client.setRequestHandler(
      ElicitRequestSchema,
      (request: { params: { message: string } }) => ({
        action: this.answer(request.params.message),
      }),
    );
  }
}

/** A new MCP client that can answer elicitations (form). */
export function newClient(person?: Person): Client {
  const client = new Client(
    { name: "progtc-test", version: "1.0.0" },
    { capabilities: person ? { elicitation: { form: {} } } : {} },
  );
  person?.attach(client);
  return client;
}

/** The text blocks of a result, joined. */
export function textOf(result: CallToolResult): string {
  return (result.content as { type: string; text?: string }[])
    .map((block) => block.type === "text" ? block.text : "").join("");
}

/** What the scenarios need of an MCP client (the TypeScript SDK's, or the Python one's). */
export interface ScenarioClient {
  listTools(): Promise<{ tools: { name: string; description?: string | undefined }[] }>;
  callTool(
    params: { name: string; arguments?: Record<string, unknown> },
    resultSchema?: undefined,
    options?: { signal?: AbortSignal; onprogress?: (p: Progress) => void },
  ): Promise<unknown>;
}

/** Calls `execute` and returns its text and whether it failed. */
export async function execute(
  client: ScenarioClient,
  code: string,
  options: {
    language?: string;
    session?: string;
    signal?: AbortSignal;
    onprogress?: (p: Progress) => void;
  } = {},
): Promise<{ text: string; isError: boolean }> {
  const result = await client.callTool(
    {
      name: "execute",
      arguments: {
        code,
        ...(options.language ? { language: options.language } : {}),
        ...(options.session ? { session: options.session } : {}),
      },
    },
    undefined,
    {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onprogress ? { onprogress: options.onprogress } : {}),
    },
  ) as CallToolResult;
  const text = textOf(result);
  return { text, isError: result.isError === true };
}

/** The pids of the processes `pid` started whose command line contains `needle`. */
export async function childrenMatching(pid: number, needle: string): Promise<number[]> {
  const found: number[] = [];
  const tasks = await Array.fromAsync(Deno.readDir(`/proc/${pid}/task`));
  for (const task of tasks) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`).catch(() => "");
    for (const child of text.trim().split(/\s+/).filter(Boolean).map(Number)) {
      const cmdline = await Deno.readTextFile(`/proc/${child}/cmdline`).catch(() => "");
      if (cmdline.includes(needle)) found.push(child);
    }
  }
  return found;
}

/** Writes `json` (or text) to `dir/name` and returns its path. */
export async function writeConfig(dir: string, name: string, json: unknown): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, typeof json === "string" ? json : JSON.stringify(json));
  return path;
}
