/**
 * The `mcp` section: what a model reads for one task of 20 tool calls on the real
 * `@modelcontextprotocol/server-memory` (record 10 people, then read each one back), made as 20
 * direct MCP tool calls, or as one `execute` of `progtc mcp` (after one `search_tools`). Counted
 * are the bytes of the JSON an MCP client puts in the model's context (the tool definitions of
 * `tools/list`, each call's name and arguments, each result), and approximate tokens (bytes / 4,
 * the usual rule of thumb for English and JSON; no tokenizer is run). Also the wall time of the
 * code-mode path (`execute` with the 20 upstream calls, sandbox included) against the 20 direct
 * calls over stdio, model time excluded. Both paths run in processes of their own: the memory
 * server, and `progtc mcp` over stdio with its embedded progtc server.
 *
 * @module
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { INLINE_LIMIT } from "../mcp/describe.ts";
import { median, ms, percentile } from "./_lib.ts";
import { oursRoot } from "./_servers.ts";
import type { Check, Ctx, Section } from "./main.ts";

const MEMORY = "npm:@modelcontextprotocol/server-memory@2026.8.31";
const PEOPLE = 10;

/** The JSON a client puts in context for a task: definitions once, then each call and result. */
interface Transcript {
  definitions: number;
  calls: number[];
  results: number[];
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
const tokens = (n: number) => Math.round(n / 4);
const total = (t: Transcript) =>
  t.definitions + t.calls.reduce((a, b) => a + b, 0) + t.results.reduce((a, b) => a + b, 0);

/**
 * Bytes read over the turns, `perTurn` calls a turn: each turn reads the definitions and every
 * call and result before it; a last turn answers.
 */
function acrossTurns(t: Transcript, perTurn: number): number {
  let context = t.definitions;
  let read = 0;
  for (let i = 0; i < t.calls.length; i += perTurn) {
    read += context; // the turn that decides these calls
    for (let j = i; j < Math.min(i + perTurn, t.calls.length); j++) {
      context += t.calls[j]! + t.results[j]!;
    }
  }
  return read + context;
}

async function connect(command: string, args: string[], env: Record<string, string>) {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command,
      args,
      env: { ...Deno.env.toObject(), ...env },
      stderr: "ignore",
    }),
  );
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>, t: Transcript) {
  const params = { name, arguments: args };
  const result = await client.callTool(params) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  t.calls.push(bytes(params));
  t.results.push(
    bytes({
      content: result.content,
      ...(result.structuredContent ? { structuredContent: result.structuredContent } : {}),
    }),
  );
  return result;
}

const people = (run: number) =>
  Array.from({ length: PEOPLE }, (_, i) => ({
    name: `Person ${run}-${i}`,
    observation: i % 3 === 0 ? "wrote a compiler" : `likes topic ${i}`,
  }));

/** 20 direct calls: 10 create_entities, then 10 open_nodes. */
async function direct(client: Client, run: number): Promise<Transcript> {
  const t: Transcript = {
    definitions: bytes((await client.listTools()).tools),
    calls: [],
    results: [],
  };
  for (const p of people(run)) {
    await call(client, "create_entities", {
      entities: [{ name: p.name, entityType: "person", observations: [p.observation] }],
    }, t);
  }
  for (const p of people(run)) await call(client, "open_nodes", { names: [p.name] }, t);
  return t;
}

const program = (run: number) =>
  `import { memory } from "tools";
const people = ${JSON.stringify(people(run))};
for (const p of people) {
  await memory.create_entities({ entities: [{ name: p.name, entityType: "person", observations: [p.observation] }] });
}
const compilers = [];
for (const p of people) {
  const { entities } = await memory.open_nodes({ names: [p.name] });
  if (entities[0].observations.some((o) => o.includes("compiler"))) compilers.push(p.name);
}
console.log(\`\${people.length} people recorded; wrote a compiler: \${compilers.join(", ")}\`);`;

/** One search_tools and one execute, whose program makes the same 20 calls. */
async function codeMode(client: Client, run: number, search: boolean): Promise<Transcript> {
  const t: Transcript = {
    definitions: bytes((await client.listTools()).tools),
    calls: [],
    results: [],
  };
  if (search) {
    await call(client, "search_tools", { query: "create entities open nodes", limit: 2 }, t);
  }
  const result = await call(client, "execute", { code: program(run) }, t);
  const text = (result.content[0] as { text: string }).text;
  if (
    !text.includes(`${PEOPLE} people recorded; wrote a compiler: Person ${run}-0, Person ${run}-3`)
  ) {
    throw new Error(`execute answered: ${text}`);
  }
  return t;
}

/** The mcp section. */
export async function mcpTokens(ctx: Ctx): Promise<Section> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-bench-mcp-" });
  const deno = Deno.execPath();
  const config = `${dir}/servers.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      mcpServers: {
        memory: {
          command: deno,
          args: ["run", "-A", "--quiet", MEMORY],
          env: { MEMORY_FILE_PATH: `${dir}/code.jsonl` },
        },
      },
    }),
  );
  ctx.log("mcp: starting server-memory and progtc mcp (stdio)");
  const upstream = await connect(deno, ["run", "-A", "--quiet", MEMORY], {
    MEMORY_FILE_PATH: `${dir}/direct.jsonl`,
  });
  const mcp = await connect(
    deno,
    ["run", "-A", `${oursRoot}/cli.ts`, "mcp", "--config", config],
    {},
  );
  try {
    const runs = ctx.n(15, 5);
    const directMs: number[] = [];
    const codeMs: number[] = [];
    let directT: Transcript | undefined;
    let codeT: Transcript | undefined;
    let searchT: Transcript | undefined;
    await codeMode(mcp, -1, false); // warm-up: the sandbox's first program
    for (let run = 0; run < runs; run++) {
      let started = performance.now();
      directT = await direct(upstream, run);
      directMs.push(performance.now() - started);
      started = performance.now();
      await codeMode(mcp, run, false);
      codeMs.push(performance.now() - started);
      codeT ??= await codeMode(mcp, 1000 + run, false);
      searchT ??= await codeMode(mcp, 2000 + run, true);
    }
    const rows: string[][] = [];
    const row = (name: string, t: Transcript, perTurn: number) => {
      const end = total(t);
      const read = acrossTurns(t, perTurn);
      rows.push([
        name,
        String(Math.ceil(t.calls.length / perTurn) + 1),
        String(t.definitions),
        String(t.calls.reduce((a, b) => a + b, 0)),
        String(t.results.reduce((a, b) => a + b, 0)),
        `${end} (~${tokens(end)})`,
        `${read} (~${tokens(read)})`,
      ]);
      return { end, read };
    };
    const d = row("20 direct calls, one a turn (server-memory's 9 tools)", directT!, 1);
    const b = row("20 direct calls, 10 a turn (parallel tool calls)", directT!, 10);
    const c = row("progtc mcp: one execute (declarations in its description)", codeT!, 1);
    const s = row("progtc mcp: search_tools, then one execute", searchT!, 1);
    const checks: Check[] = [{
      group: "mcp",
      what: "code mode: less JSON in context than 20 direct calls",
      wanted: "< direct",
      measured: `${c.end} vs ${d.end} bytes`,
      met: c.end < d.end,
    }];
    return {
      title: "progtc mcp: what a model reads for a 20-call task, and the code-mode path's time",
      description: "One task on the real server-memory: record 10 people (create_entities each), " +
        "then read each back (open_nodes each), and say which wrote a compiler. Direct: an MCP " +
        "client calls the 20 tools itself, one or 10 a model turn. Code mode: progtc mcp's " +
        "tools/list and one execute (with or without a search_tools first) whose TypeScript " +
        "program makes the 20 calls and prints one line. Bytes of the JSON a client puts in context (tool " +
        "definitions, each call's name and arguments, each result's content and " +
        "structuredContent); tokens ≈ bytes / 4 (a rule of thumb, no tokenizer)",
      tables: [
        {
          head: [
            "path",
            "model turns",
            "definitions (B)",
            "calls (B)",
            "results (B)",
            "in context at the end (B, ~tokens)",
            "read over all turns (B, ~tokens)",
          ],
          rows,
          left: [],
        },
        {
          head: ["wall time, model excluded", "runs", "p50 (ms)", "p95 (ms)"],
          rows: [
            [
              "20 direct calls over stdio",
              String(runs),
              ms(median(directMs)),
              ms(percentile(directMs, 95)),
            ],
            [
              "one execute (20 upstream calls, sandbox)",
              String(runs),
              ms(median(codeMs)),
              ms(percentile(codeMs, 95)),
            ],
          ],
        },
      ],
      notes: [
        `In context at the end, one execute holds ${(c.end / d.end * 100).toFixed(0)}% of the ` +
        `bytes of the direct calls; read over all turns (each turn re-reads the context), ` +
        `${(c.read / d.read * 100).toFixed(1)}% of one call a turn and ` +
        `${(c.read / b.read * 100).toFixed(1)}% of 10 calls a turn.`,
        `server-memory's declarations fit in execute's description (under ${INLINE_LIMIT} ` +
        `characters), so no search is needed; with a search first it reads ${s.read} bytes.`,
        "The direct path's wall time leaves out the 20 model turns it needs (the code-mode path " +
        "needs 2 or 3), which dominate in practice.",
      ],
      checks,
    };
  } finally {
    await mcp.close();
    await upstream.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
