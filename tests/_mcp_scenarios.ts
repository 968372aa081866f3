/**
 * The scenarios of issue 20 that every MCP client runs against `progtc mcp` with the real npm
 * servers: list, search, a TypeScript and a Python program chaining upstream calls, a failing
 * tool, a destructive call approved and declined, cancellation, an upstream that dies mid-call.
 *
 * @module
 */
import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import {
  childrenMatching,
  execute,
  type McpFixture,
  type Person,
  type ScenarioClient,
  textOf,
} from "./_mcp.ts";
import { SESSION_RULE } from "../mcp/describe.ts";

/** What a scenario is given. */
export interface ScenarioContext {
  client: ScenarioClient;
  person: Person;
  fixture: McpFixture;
  /** The pid of the `progtc mcp` process. */
  pid: () => number;
  /** How many tools the upstream servers have together. */
  tools: number;
}

/** tools/list: the two tools; execute's description: rules, servers, a runnable example. */
export async function listsTools({ client }: ScenarioContext): Promise<void> {
  const { tools } = await client.listTools();
  deepStrictEqual(tools.map((t: { name: string }) => t.name), ["execute", "search_tools"]);
  const description = tools[0]!.description!;
  match(description, /Each MCP server is a namespace of the "tools" module/);
  match(description, /everything \(13\), memory \(9\), filesystem \(14\)/);
  match(description, /Not running: broken \(failed: cannot run does-not-exist-xyz: not found\)/);
  // The example the model reads runs as written.
  const example = description.match(/```typescript\n([\s\S]*?)\n```/)![1]!;
  match(example, /^import \{ everything \} from "tools";/);
  const ran = await execute(client, example);
  strictEqual(ran.isError, false, ran.text);
  match(ran.text, /--- stdout ---\n/);
}

/** search_tools answers declarations in TypeScript and in Python. */
export async function searchesTools({ client, tools }: ScenarioContext): Promise<void> {
  const search = async (args: Record<string, unknown>) => {
    const result = await client.callTool({ name: "search_tools", arguments: args });
    return textOf(result as CallToolResult);
  };
  const ts = await search({ query: "create entities knowledge graph", limit: 2 });
  match(ts, new RegExp(`^2 best of \\d+ matching tools \\(of ${tools}\\):`));
  match(ts, /export namespace memory \{/);
  match(ts, /export function create_entities\(input: \{/);
  const py = await search({ query: "sum", language: "python", limit: 1 });
  match(py, /class everything:\n/);
  match(py, /async def get_sum\(\*, a: float, b: float\)/);
  match(py, /\("get-sum" on the server\)/);
  match(await search({ query: "zzzunknownzzz" }), new RegExp(`^No tool matches \\(of ${tools}\\)`));
}

/** A TypeScript program writes files, lists and reads them back, and returns a summary. */
export async function chainsTypeScript({ client, person, fixture }: ScenarioContext) {
  person.answers = ["accept", "accept", "accept"]; // write_file is destructive
  const { text, isError } = await execute(
    client,
    `import { filesystem } from "tools";
const dir = ${JSON.stringify(fixture.files)};
const notes = { "a.txt": "alpha beta", "b.txt": "gamma", "c.txt": "delta epsilon zeta" };
await Promise.all(Object.entries(notes).map(([name, content]) =>
  filesystem.write_file({ path: dir + "/" + name, content })));
const listing = await filesystem.list_directory({ path: dir });
const names = [...listing.content.matchAll(/\\[FILE\\] (\\S+)/g)].map((m) => m[1]).sort();
let words = 0;
for (const name of names) {
  const { content } = await filesystem.read_text_file({ path: dir + "/" + name });
  words += content.split(" ").length;
}
console.log(names.length + " files");
export default { names, words };`,
  );
  strictEqual(isError, false, text);
  match(text, /--- stdout ---\n3 files\n/);
  match(text, /--- value \(JSON\) ---\n\{"names":\["a.txt","b.txt","c.txt"\],"words":6\}/);
  strictEqual(await Deno.readTextFile(`${fixture.files}/c.txt`), "delta epsilon zeta");
  strictEqual(person.asked.length, 3);
  match(person.asked[0]!, /A program wants to run write_file on the MCP server "filesystem"/);
}

/** A Python program creates memory entities, then queries them. */
export async function chainsPython({ client }: ScenarioContext): Promise<void> {
  const { text, isError } = await execute(
    client,
    `import asyncio
from tools import memory

await memory.create_entities(entities=[
    {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]},
    {"name": "Grace", "entityType": "person", "observations": ["wrote a compiler"]},
])
await memory.create_relations(relations=[{"from": "Grace", "to": "Ada", "relationType": "admires"}])
found, opened = await asyncio.gather(
    memory.search_nodes(query="compiler"),
    memory.open_nodes(names=["Ada"]),
)
print([e["name"] for e in found["entities"]], opened["entities"][0]["observations"])
len(opened["relations"])`,
    { language: "python" },
  );
  strictEqual(isError, false, text);
  match(text, /--- stdout ---\n\['Grace'\] \['wrote the first program'\]\n/);
  match(text, /--- value \(JSON\) ---\n1$/);
}

/** A failed upstream call and a call that does not fit its schema raise ToolError. */
export async function toolFails({ client }: ScenarioContext): Promise<void> {
  const ts = await execute(
    client,
    `import { filesystem, everything } from "tools";
try { await filesystem.read_text_file({ path: "/etc/hostname" }); }
catch (error) { console.log(error.name + ": " + error.message); }
await everything.get_sum({ a: "one", b: 2 });`,
  );
  strictEqual(ts.isError, true);
  match(ts.text, /--- stdout ---\nToolError: .*Access denied - path outside allowed directories/);
  match(ts.text, /--- stderr ---\nToolError: Invalid input for everything\.get_sum\(\): a: /);
  match(ts.text, /at code\.ts:4:/);
  const py = await execute(
    client,
    `from tools import filesystem\nawait filesystem.read_text_file(path="/etc/hostname")`,
    { language: "python" },
  );
  strictEqual(py.isError, true);
  match(py.text, /File "<code>", line 2, in <module>\n/);
  match(py.text, /ToolError: .*Access denied/);
}

/** A destructive call asks the person: approved it runs, declined the program sees why. */
export async function approvesAndDeclines({ client, person }: ScenarioContext) {
  await execute(
    client,
    `import { memory } from "tools";
await memory.create_entities({ entities: ["Old", "Older"].map((name) =>
  ({ name, entityType: "note", observations: [] })) });`,
  );
  person.asked = [];
  person.answers = ["accept", "decline"];
  const { text, isError } = await execute(
    client,
    `import { memory } from "tools";
await memory.delete_entities({ entityNames: ["Old"] });
try { await memory.delete_entities({ entityNames: ["Older"] }); }
catch (error) { console.log(error.name + ": " + error.message); }
const graph = await memory.read_graph({});
console.log(graph.entities.map((e) => e.name).filter((n) => n.startsWith("Old")));`,
  );
  strictEqual(isError, false, text);
  match(text, /ToolError: the person declined memory\.delete_entities, so it did not run\n/);
  match(text, /\[ "Older" \]/);
  strictEqual(person.asked.length, 2);
  match(
    person.asked[0]!,
    /run delete_entities on the MCP server "memory" \(the server marks it destructive\) with:\n\{\n {2}"entityNames": \[\n {4}"Old"/,
  );
}

/** Cancelling `execute` ends the program: what it would have done next never happens. */
export async function cancels({ client }: ScenarioContext): Promise<void> {
  const abort = new AbortController();
  const progress: string[] = [];
  const call = execute(
    client,
    `import { everything, memory } from "tools";
await everything.trigger_long_running_operation({ duration: 1, steps: 4 });
await memory.create_entities({ entities: [{ name: "AfterCancel", entityType: "x", observations: [] }] });`,
    {
      signal: abort.signal,
      onprogress: (p) => {
        progress.push(p.message ?? "");
        abort.abort();
      },
    },
  );
  await rejects(call);
  match(progress[0]!, /^everything\.trigger_long_running_operation: /);
  // Past the time the long operation would have taken, the program has not gone on.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const graph = await execute(
    client,
    `import { memory } from "tools"; const g = await memory.read_graph({});
console.log(g.entities.some((e) => e.name === "AfterCancel"));`,
  );
  match(graph.text, /--- stdout ---\nfalse\n/);
}

/** An upstream server killed mid-call: the call fails, the program goes on, others serve. */
export async function upstreamDies(context: ScenarioContext): Promise<void> {
  const { client } = context;
  const started = Promise.withResolvers<void>();
  const call = execute(
    client,
    `import { everything, memory } from "tools";
try { await everything.trigger_long_running_operation({ duration: 20, steps: 20 }); }
catch (error) { console.log(error.name + ": " + error.message); }
console.log((await memory.search_nodes({ query: "Grace" })).entities.length);`,
    { onprogress: () => started.resolve() },
  );
  await started.promise;
  const [pid] = await childrenMatching(context.pid(), "server-everything");
  ok(pid, "the everything server's process");
  Deno.kill(pid, "SIGKILL");
  const { text, isError } = await call;
  strictEqual(isError, false, text);
  match(text, /ToolError: server everything stopped during the call: the connection closed/);
  match(text, /\n1\n/);
  const after = await execute(
    client,
    `import { everything } from "tools"; await everything.echo({ message: "x" });`,
  );
  match(after.text, /ToolError: server everything is not running: the connection closed/);
  const { tools } = await client.listTools();
  match(tools[0]!.description!, /Not running: everything \(stopped: the connection closed\)/);
}

/**
 * `execute` with a session, as its description says: "new" opens one and the answer names it;
 * the next program finds what the first defined; an unknown one is refused, saying so.
 */
export async function keepsASession({ client }: ScenarioContext): Promise<void> {
  const { tools } = await client.listTools();
  const described = JSON.stringify(tools.find((tool) => tool.name === "execute"));
  ok(described.includes(JSON.stringify(SESSION_RULE).slice(1, -1)), described);
  const opened = await execute(
    client,
    `import { memory } from "tools";
const names = ["Ada", "Grace"];
async function people() { return (await memory.search_nodes({ query: "" })).entities.length; }`,
    { session: "new" },
  );
  strictEqual(opened.isError, false, opened.text);
  const id = opened.text.match(/Session: ([0-9a-f]{32})\./)?.[1];
  ok(id, opened.text);
  const next = await execute(client, `console.log(names.length, (await people()) >= 2);`, {
    session: id,
  });
  strictEqual(next.isError, false, next.text);
  match(next.text, /--- stdout ---\n2 true\n/);
  const unknown = await execute(client, "console.log(1)", { session: "0123456789abcdef0123" });
  strictEqual(unknown.isError, true);
  match(
    unknown.text,
    /^The program did not run: 404 unknown_session: No session 0123456789abcdef0123/,
  );
}

/** Every scenario, in an order where each leaves what the next needs. */
export const SCENARIOS: [string, (context: ScenarioContext) => Promise<void>][] = [
  ["lists the tools; the description's example runs", listsTools],
  ["searches the tools (TypeScript, Python)", searchesTools],
  ["a TypeScript program chains filesystem calls", chainsTypeScript],
  ["a Python program chains memory calls", chainsPython],
  ["a failing tool raises ToolError", toolFails],
  ["a session keeps what its programs define", keepsASession],
  ["a destructive call approved, then declined", approvesAndDeclines],
  ["cancellation ends the program", cancels],
  ["an upstream server dies mid-call; the others serve", upstreamDies],
];
