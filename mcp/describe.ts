/**
 * What the model reads about `execute` and `search_tools`: the rules of a program, a runnable
 * example made from a real tool of the catalogue, the servers that are not running, and either
 * the declarations of every tool (a small catalogue) or how to find them with `search_tools`.
 *
 * @module
 */
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import type { Catalog, CatalogEntry } from "./catalog.ts";
import { declarationsOf, type ProgramLanguage } from "./declarations.ts";

/** Declarations up to this many characters go into `execute`'s description; else, search. */
export const INLINE_LIMIT = 8000;

/** The server's instructions to the client. */
export const INSTRUCTIONS =
  "Code mode: instead of calling tools one by one, write one program that calls them with " +
  "`execute`; only what it prints or returns comes back. Find tools with `search_tools`.";

const RULES: Record<ProgramLanguage, string> = {
  typescript: `Runs a TypeScript program in a sandbox and returns what it printed (stdout, stderr) \
and its \`export default\` value. The program has no network, files or environment: the tools are \
its only way out. Each MCP server is a namespace of the "tools" module: \
\`import { memory } from "tools";\` then \`await memory.create_entities({ ... })\`. Every tool is \
async and takes one object, its arguments; run several at once with \`Promise.all\`. A tool returns \
its structured result, or else its text. A tool that fails throws an error named ToolError whose \
message says why (so does a call the person declined). Print or return only what you need: long \
output is cut. With \`language: "python"\`, write Python instead: \`from tools import memory\`, \
\`await memory.create_entities(entities=[...])\` (arguments as keywords), \`asyncio.gather\` to run \
several at once, failures raise \`tools.ToolError\`, and the value of the last expression is \
returned.`,
  python: `Runs a Python program in a sandbox and returns what it printed (stdout, stderr) and the \
value of its last expression. The program has no network, files or environment: the tools are its \
only way out. Each MCP server is a namespace of the \`tools\` module: \`from tools import memory\` \
then \`await memory.create_entities(entities=[...])\`. Every tool is a coroutine: \`await\` it \
(top-level await works) and pass its arguments as keywords; run several at once with \
\`asyncio.gather\`. A tool returns its structured result, or else its text. A tool that fails \
raises \`tools.ToolError\`, whose message says why (so does a call the person declined). Print or \
return only what you need: long output is cut. With \`language: "typescript"\`, write TypeScript \
instead: \`import { memory } from "tools"\`, \`await memory.create_entities({ ... })\`, failures \
throw an error named ToolError, and \`export default\` is returned.`,
};

/** What `execute`'s `session` does, as the model reads it. */
export const SESSION_RULE = 'Keep what this program defines for the next ones: "new" opens a ' +
  "session (its id comes back with the result), a session's id runs the program in it, where " +
  "the top-level variables, functions and classes of its earlier programs are defined (a " +
  "session has one language). Without it, every program starts from nothing.";

/** `execute` and `search_tools` as `tools/list` answers them. */
export function toolList(catalog: Catalog, language: ProgramLanguage): McpTool[] {
  return [
    {
      name: "execute",
      description: executeDescription(catalog, language),
      inputSchema: {
        type: "object",
        properties: {
          code: { type: "string", description: `The program (${language} unless language says)` },
          language: {
            type: "string",
            enum: ["typescript", "python"],
            description: `The program's language [${language}]`,
          },
          session: {
            type: "string",
            description: SESSION_RULE,
          },
        },
        required: ["code"],
      },
      annotations: { title: "Run a program that calls the tools", openWorldHint: true },
    },
    {
      name: "search_tools",
      description: "Finds the tools a program of `execute` can call, by words of their names, " +
        "descriptions and parameters, and answers the best matches' declarations (in " +
        `${language} unless language says). An empty query lists every tool.`,
      inputSchema: {
        type: "object",
        properties: {
          query: { type: "string", description: "Words to look for, e.g. 'read file'" },
          language: { type: "string", enum: ["typescript", "python"] },
          limit: { type: "integer", minimum: 1, maximum: 50, description: "Most matches [10]" },
        },
        required: ["query"],
      },
      annotations: { title: "Search the tools", readOnlyHint: true, openWorldHint: false },
    },
  ];
}

/** The description of `execute`. */
export function executeDescription(catalog: Catalog, language: ProgramLanguage): string {
  const { entries } = catalog;
  const parts = [RULES[language]];
  const example = exampleOf(entries, language);
  if (example) parts.push(`For example:\n\`\`\`${language}\n${example}\n\`\`\``);
  const down = catalog.servers.filter((s) => s.state !== "ready");
  if (down.length > 0) {
    parts.push(
      `Not running: ${
        down.map((s) => `${s.namespace} (${s.state}: ${s.error ?? "unknown"})`).join("; ")
      }.`,
    );
  }
  const declarations = declarationsOf(entries, language);
  const servers = catalog.servers.filter((s) => s.tools > 0)
    .map((s) => `${s.namespace} (${s.tools})`).join(", ");
  if (entries.length === 0) {
    parts.push("No tool is available now.");
  } else if (declarations.length <= INLINE_LIMIT) {
    parts.push(`The tools:\n\`\`\`${language}\n${declarations}\n\`\`\``);
  } else {
    parts.push(
      `There are ${entries.length} tools, in the namespaces ${servers}: find the ones you need ` +
        "with search_tools, which answers their declarations.",
    );
  }
  return parts.join("\n\n");
}

/**
 * A program that calls one real tool: the first read-only one that needs no arguments (and does
 * not look like it reads secrets), or none.
 */
function exampleOf(entries: CatalogEntry[], language: ProgramLanguage): string | undefined {
  const entry = entries.find((e) =>
    e.tool.annotations?.readOnlyHint === true && !e.confirm &&
    !/env|secret|token|key|password/i.test(e.name) &&
    ((e.tool.inputSchema.required as string[] | undefined) ?? []).length === 0
  );
  if (!entry) return undefined;
  const { namespace, id } = entry;
  return language === "python"
    ? `from tools import ${namespace}\n\nresult = await ${namespace}.${id}()\nprint(result)`
    : `import { ${namespace} } from "tools";\n\nconst result = await ${namespace}.${id}({});\n` +
      "console.log(result);";
}
