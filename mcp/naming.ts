/**
 * Names inside a program: each upstream server is a namespace of the `tools` module
 * (`import { memory } from "tools"`, `from tools import memory`) and each of its tools a
 * function of that namespace (`memory.create_entities`). Both are identifiers in TypeScript and
 * Python: other characters become `_` (`get-env` → `get_env`), a leading digit gets a `_`
 * before it, and keywords of either language get one after them (`import` → `import_`).
 *
 * On the wire (progtc's `tool_names`) a tool is `<namespace>.<tool>` and a namespace is its own
 * name: a program's `tools` module stays flat, and the prelude (`prelude.ts`) groups it. Two
 * servers or tools that map to one name are a {@linkcode NameClash}, never an overwrite.
 *
 * @module
 */
import { MAX_TOOL_NAME_LENGTH } from "../protocol.ts";

/** Two names that map to one identifier, or a name too long for the wire. */
export class NameClash extends Error {
  /** A clash saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "NameClash";
  }
}

// Keywords and reserved words of TypeScript/JavaScript and Python, and names the `tools` module
// or the prelude use (`ToolError`; `then`, which `await import("tools")` would call).
const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if import in instanceof new null return super switch this throw " +
    "true try typeof var void while with yield let static implements interface package private " +
    "protected public await arguments eval undefined " +
    "False None True and as assert async def del elif except from global is lambda nonlocal not " +
    "or pass raise " +
    "ToolError then"
  ).split(" "),
);

/**
 * The identifier a server or tool name maps to.
 *
 * @example
 * ```ts
 * import { identifierOf } from "./naming.ts";
 * console.assert(identifierOf("get-env") === "get_env");
 * console.assert(identifierOf("2fa") === "_2fa");
 * console.assert(identifierOf("import") === "import_");
 * ```
 */
export function identifierOf(name: string): string {
  let id = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (id === "" || /^[0-9]/.test(id)) id = `_${id}`;
  if (RESERVED.has(id) || id.startsWith("__progtc")) id = `${id}_`;
  return id;
}

/** The wire name of tool `tool` of namespace `namespace`. */
export function wireName(namespace: string, tool: string): string {
  return `${namespace}.${tool}`;
}

/**
 * The namespace of each server name, in order; throws a {@linkcode NameClash} when two map to
 * one.
 */
export function namespacesOf(servers: string[]): Map<string, string> {
  const byId = new Map<string, string>();
  const result = new Map<string, string>();
  for (const server of servers) {
    const id = identifierOf(server);
    const other = byId.get(id);
    if (other !== undefined) {
      throw new NameClash(
        `servers ${JSON.stringify(other)} and ${JSON.stringify(server)} both map to the ` +
          `namespace ${id}: rename one in the config`,
      );
    }
    byId.set(id, server);
    result.set(server, id);
  }
  return result;
}

/**
 * The identifier of each tool name of one server; throws a {@linkcode NameClash} when two map
 * to one, or a wire name would be longer than the protocol allows.
 */
export function toolIdentifiersOf(
  server: string,
  namespace: string,
  tools: string[],
): Map<string, string> {
  const byId = new Map<string, string>();
  const result = new Map<string, string>();
  for (const tool of tools) {
    const id = identifierOf(tool);
    const other = byId.get(id);
    if (other !== undefined) {
      throw new NameClash(
        `server ${JSON.stringify(server)}: tools ${JSON.stringify(other)} and ` +
          `${JSON.stringify(tool)} both map to ${namespace}.${id}`,
      );
    }
    const wire = wireName(namespace, id);
    if (wire.length > MAX_TOOL_NAME_LENGTH) {
      throw new NameClash(
        `server ${JSON.stringify(server)}: ${wire} is longer than ${MAX_TOOL_NAME_LENGTH} ` +
          `characters`,
      );
    }
    byId.set(id, tool);
    result.set(tool, id);
  }
  return result;
}
