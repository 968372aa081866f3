/**
 * The declarations a model reads: the catalogue's tools as `describeTools` writes them (types from
 * each tool's JSON Schemas), grouped by server. TypeScript: `declare module "tools"` with one
 * `export namespace` per server; Python: the stubs of `describeTools`, each server's functions as
 * static methods of a class named like its namespace.
 *
 * @module
 */
import type { JsonSchema } from "../client/schema.ts";
import { type DefinedTool, defineTool, describeTools } from "../client/mod.ts";
import type { CatalogEntry } from "./catalog.ts";

/** The language a model writes its program in. */
export type ProgramLanguage = "typescript" | "python";

/**
 * The declarations of `entries` in `language`.
 *
 * @example
 * ```ts
 * import { declarationsOf } from "./declarations.ts";
 * const text = declarationsOf([{
 *   server: "memory", namespace: "memory", name: "read_graph", id: "read_graph",
 *   wire: "memory.read_graph", confirm: false, allowUnconfirmed: false,
 *   tool: { name: "read_graph", description: "Read the graph", inputSchema: { type: "object" } },
 * }], "typescript");
 * console.assert(text.includes("export namespace memory {"));
 * ```
 */
export function declarationsOf(entries: CatalogEntry[], language: ProgramLanguage): string {
  return language === "python" ? pythonOf(entries) : typeScriptOf(entries);
}

function definedTool(entry: CatalogEntry): DefinedTool {
  const notes: string[] = [];
  if (entry.id !== entry.name) notes.push(`(${JSON.stringify(entry.name)} on the server)`);
  if (entry.confirm) notes.push("Asks the person to approve each call first.");
  const description = [entry.tool.description ?? "", ...notes].filter(Boolean).join("\n");
  return defineTool({
    ...(description ? { description } : {}),
    input: entry.tool.inputSchema as JsonSchema,
    ...(entry.tool.outputSchema ? { output: entry.tool.outputSchema as JsonSchema } : {}),
    execute: () => undefined,
  });
}

function byNamespace(entries: CatalogEntry[]): Map<string, CatalogEntry[]> {
  const groups = new Map<string, CatalogEntry[]>();
  for (const entry of entries) {
    const group = groups.get(entry.namespace) ?? [];
    group.push(entry);
    groups.set(entry.namespace, group);
  }
  return groups;
}

function typeScriptOf(entries: CatalogEntry[]): string {
  const lines = ['declare module "tools" {'];
  for (const [namespace, group] of byNamespace(entries)) {
    const tools = Object.fromEntries(group.map((e) => [e.id, definedTool(e)]));
    const body = describeTools(tools, { language: "typescript", rules: false }).split("\n");
    // describeTools wraps its declarations in `declare module "tools" { ... }`: keep the inside.
    lines.push(`  /** The tools of the MCP server ${JSON.stringify(group[0]!.server)}. */`);
    lines.push(`  export namespace ${namespace} {`);
    lines.push(...body.slice(1, -1).map((line) => `  ${line}`));
    lines.push("  }");
  }
  lines.push("}");
  return lines.join("\n");
}

function pythonOf(entries: CatalogEntry[]): string {
  // One describeTools call for all, so that its TypedDict names are unique across servers.
  const keys = new Map<string, CatalogEntry>();
  for (const entry of entries) {
    let key = `${entry.namespace}_${entry.id}`;
    for (let i = 2; keys.has(key); i++) key = `${entry.namespace}_${entry.id}${i}`;
    keys.set(key, entry);
  }
  const tools = Object.fromEntries([...keys].map(([key, entry]) => [key, definedTool(entry)]));
  const text = describeTools(tools, { language: "python", rules: false });
  const first = text.search(/^async def /m);
  if (first < 0) return text;
  const head = text.slice(0, first).trimEnd();
  const functions = text.slice(first).split(/\n\n(?=async def )/);
  const methods = new Map<string, string[]>();
  for (const source of functions) {
    const key = source.match(/^async def ([A-Za-z0-9_]+)\(/)?.[1];
    const entry = key === undefined ? undefined : keys.get(key);
    if (!entry) continue;
    const renamed = source.replace(`async def ${key}(`, `async def ${entry.id}(`);
    const method = ["@staticmethod", ...renamed.split("\n")]
      .map((line) => (line === "" ? "" : `    ${line}`)).join("\n");
    const list = methods.get(entry.namespace) ?? [];
    list.push(method);
    methods.set(entry.namespace, list);
  }
  const classes = [...methods].map(([namespace, list]) => {
    const server = entries.find((e) => e.namespace === namespace)!.server;
    const doc = `    """The tools of the MCP server ${JSON.stringify(server)}."""`;
    return [`class ${namespace}:`, doc, "", list.join("\n\n")].join("\n");
  });
  return [head, "", ...classes.map((c) => `${c}\n`)].join("\n").trimEnd();
}
