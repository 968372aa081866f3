/**
 * The parts of `progtc mcp` one at a time: the config, names, the declarations a model reads
 * (type-checked by TypeScript, run by Python), search, the prelude, and clipping.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { Catalog, type CatalogEntry } from "../mcp/catalog.ts";
import { serveHttp } from "../mcp/http.ts";
import { ConfigError, parseConfig } from "../mcp/config.ts";
import { declarationsOf } from "../mcp/declarations.ts";
import { identifierOf, NameClash, namespacesOf, toolIdentifiersOf } from "../mcp/naming.ts";
import { fixOutput, withPrelude } from "../mcp/prelude.ts";
import { clip, formatResult } from "../mcp/result.ts";
import { searchEntries } from "../mcp/search.ts";

function entry(
  server: string,
  name: string,
  inputSchema: Record<string, unknown>,
  extra: Partial<CatalogEntry["tool"]> = {},
): CatalogEntry {
  const namespace = identifierOf(server);
  const id = identifierOf(name);
  return {
    server,
    namespace,
    name,
    id,
    wire: `${namespace}.${id}`,
    confirm: false,
    allowUnconfirmed: false,
    tool: { name, inputSchema: { type: "object", ...inputSchema }, ...extra },
  };
}

const ENTRIES = [
  entry("memory", "create_entities", {
    properties: {
      entities: {
        type: "array",
        items: {
          type: "object",
          properties: {
            name: { type: "string", description: "Its name" },
            tags: { type: "array", items: { type: "string" } },
          },
          required: ["name"],
        },
      },
    },
    required: ["entities"],
  }, {
    description: "Create entities",
    outputSchema: {
      type: "object",
      properties: { count: { type: "integer" } },
      required: ["count"],
    },
  }),
  entry("my-files", "read-file", { properties: { path: { type: "string" } }, required: ["path"] }, {
    description: "Read a file",
  }),
  entry("my-files", "import", { properties: {} }),
];

Deno.test("config: mcpServers of stdio and HTTP servers, variables, our keys", () => {
  const config = parseConfig({
    mcpServers: {
      fs: { command: "npx", args: ["-y", "server", "${HOME_DIR:-/tmp}"], env: { TOKEN: "${T}" } },
      remote: {
        type: "http",
        url: "https://example.com/mcp",
        headers: { authorization: "Bearer ${T}" },
        confirm: ["x"],
        allowUnconfirmed: true,
      },
      off: { command: "never", disabled: true },
    },
  }, { T: "secret" });
  deepStrictEqual(config.servers.map((s) => s.name), ["fs", "remote"]);
  deepStrictEqual(config.servers[0]!.transport, {
    kind: "stdio",
    command: "npx",
    args: ["-y", "server", "/tmp"],
    env: { TOKEN: "secret" },
  });
  deepStrictEqual(config.servers[1]!.transport, {
    kind: "http",
    url: "https://example.com/mcp",
    headers: { authorization: "Bearer secret" },
  });
  deepStrictEqual([config.servers[1]!.confirm, config.servers[1]!.allowUnconfirmed], [["x"], true]);
  throws(
    () => parseConfig({ mcpServers: { a: { url: "file:///etc" } } }, {}),
    /must be http: or https:/,
  );
  throws(() => parseConfig({ servers: {} }, {}), ConfigError);
  throws(
    () => parseConfig({ mcpServers: { a: { command: "x", confirm: "y" } } }, {}),
    /confirm: must be an array of strings/,
  );
});

Deno.test("names: identifiers in both languages; clashes are errors", () => {
  deepStrictEqual(
    ["get-env", "2fa", "class", "None", "then", "ToolError", "ok"].map(identifierOf),
    [
      "get_env",
      "_2fa",
      "class_",
      "None_",
      "then_",
      "ToolError_",
      "ok",
    ],
  );
  throws(() => namespacesOf(["a.b", "a-b"]), NameClash);
  throws(() => toolIdentifiersOf("s", "s", ["get-env", "get_env"]), /both map to s\.get_env/);
  throws(() => toolIdentifiersOf("s", "s", ["x".repeat(130)]), /longer than 128/);
});

Deno.test("declarations: TypeScript that type-checks a program using them", async () => {
  const text = declarationsOf(ENTRIES, "typescript");
  match(text, /export namespace my_files \{/);
  match(text, /export function read_file\(input: \{ path: string \}\): Promise<unknown>;/);
  match(text, /\("read-file" on the server\)/);
  match(text, /Promise<\{ count: number \}>/);
  const dir = await Deno.makeTempDir();
  try {
    // The declarations as the module the program's "tools" resolves to.
    const body = text.replace(/^declare module "tools" \{\n/, "").replace(/\n\}$/, "\n");
    await Deno.writeTextFile(`${dir}/tools.d.ts`, body);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ imports: { tools: "./tools.d.ts" } }),
    );
    const program = `import { memory, my_files } from "tools";\n` +
      `const made: { count: number } = await memory.create_entities({ entities: [{ name: "a" }] });\n` +
      `await my_files.read_file({ path: "x" });\nawait my_files.import_();\nconsole.log(made.count);\n` +
      `// @ts-expect-error: path is required\nawait my_files.read_file({});\n`;
    await Deno.writeTextFile(`${dir}/program.ts`, program);
    const checked = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "program.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(checked.success, true, new TextDecoder().decode(checked.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declarations: Python stubs that Python runs, one class per server", async () => {
  const text = declarationsOf(ENTRIES, "python");
  match(text, /^class my_files:\n {4}"""The tools of the MCP server "my-files"\."""/m);
  match(text, /@staticmethod\n {4}async def read_file\(\*, path: str\) -> Any:/);
  match(
    text,
    /async def create_entities\(\*, entities: list\[MemoryCreateEntitiesEntitiesItem\]\) -> MemoryCreateEntitiesResult:/,
  );
  const script =
    `${text}\nimport inspect\nassert inspect.iscoroutinefunction(memory.create_entities)\n` +
    `assert inspect.iscoroutinefunction(my_files.import_)\nprint("ok")\n`;
  const ran = await new Deno.Command("python3", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  strictEqual(new TextDecoder().decode(ran.stdout), "ok\n", new TextDecoder().decode(ran.stderr));
});

Deno.test("search: names beat parameters beat descriptions; limits; empty lists all", () => {
  const names = (query: string, limit?: number) =>
    searchEntries(ENTRIES, query, limit).matches.map((e) => e.id);
  deepStrictEqual(names("read"), ["read_file"]);
  deepStrictEqual(names("file"), ["read_file", "import_"]); // the server my-files, then description
  deepStrictEqual(names("path entities"), ["create_entities", "read_file"]); // a tie: in order
  deepStrictEqual(names(""), ["create_entities", "read_file", "import_"]);
  deepStrictEqual(names("", 1), ["create_entities"]);
  strictEqual(searchEntries(ENTRIES, "", 1).total, 3);
});

Deno.test("prelude: TypeScript keeps line numbers; Python's are put back", () => {
  const ts = withPrelude("line1\nline2", "typescript", { memory: ["read_graph"] });
  strictEqual(ts.split("\n").length, 2);
  ok(ts.split("\n")[0]!.endsWith("line1"));
  const py = withPrelude("x = 1", "python", { memory: ["read_graph"] });
  strictEqual(py.split("\n").length, 2);
  strictEqual(
    fixOutput('File "<code>", line 3, in <module>', "python"),
    'File "<code>", line 2, in <module>',
  );
  strictEqual(fixOutput('File "<code>", line 3', "typescript"), 'File "<code>", line 3');
});

Deno.test("results: each part clipped with a visible marker, within the budget", () => {
  const text = formatResult({
    type: "success",
    stdout: "o".repeat(50_000),
    stderr: "e",
    value: { n: 1 },
  }, 2000);
  ok(text.length <= 2000, String(text.length));
  match(text, /characters cut: print less, or return only what you need/);
  match(text, /--- stderr ---\ne\n/);
  match(text, /--- value \(JSON\) ---\n\{"n":1\}$/);
  strictEqual(clip("short", 100), "short");
  match(
    formatResult({ type: "timeout_error", stdout: "", stderr: "" }),
    /ran out of time\. It printed nothing/,
  );
});

Deno.test("HTTP front: at most maxSessions sessions; past it 503, and the others still serve", async () => {
  const front = {
    backend: { client: undefined, where: "none", close: () => Promise.resolve() } as never,
    catalog: new Catalog([]),
    language: "typescript" as const,
    maxResultChars: 1000,
    version: "test",
  };
  await using http = serveHttp(front, {
    hostname: "127.0.0.1",
    port: 0,
    apiKey: "k",
    maxSessions: 2,
  });
  const initialize = () =>
    fetch(http.url, {
      method: "POST",
      headers: {
        authorization: "Bearer k",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "t", version: "1" },
        },
      }),
    });
  const opened: string[] = [];
  for (let i = 0; i < 2; i++) {
    const response = await initialize();
    strictEqual(response.status, 200);
    opened.push(response.headers.get("mcp-session-id")!);
    await response.body?.cancel();
  }
  const refused = await initialize();
  strictEqual(refused.status, 503);
  match(await refused.text(), /Too many sessions \(2\)/);
  strictEqual(http.sessions, 2);
  const listed = await fetch(http.url, {
    method: "POST",
    headers: {
      authorization: "Bearer k",
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": opened[1]!,
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  strictEqual(listed.status, 200);
  match(await listed.text(), /"name":"execute"/);
  // A session ends (DELETE): a new one may start.
  const closed = await fetch(http.url, {
    method: "DELETE",
    headers: {
      authorization: "Bearer k",
      "mcp-session-id": opened[0]!,
      "mcp-protocol-version": "2025-06-18",
    },
  });
  strictEqual(closed.status, 200);
  await closed.body?.cancel();
  const again = await initialize();
  strictEqual(again.status, 200);
  await again.body?.cancel();
});
