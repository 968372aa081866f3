/**
 * What the comparison sections of issue 8 share: the four things compared and their servers,
 * the request builders ({@linkcode trivial}, {@linkcode loop}) and {@linkcode run}, which checks
 * each result, and the store of what the sections measured ({@linkcode results}), read by the
 * summary and by the `floors` section ({@linkcode measured}).
 *
 * @module
 */
import { type Endpoint, execute, expectSuccess, type ToolCall } from "./_client.ts";
import { REFERENCE_VERSION, type Server } from "./_servers.ts";
import type { Ctx } from "./main.ts";

/** The four things compared. */
export type Key = "ts" | "py" | "ref" | "echo";

/** How the report names each. */
export const LABEL: Record<Key, string> = {
  ts: "ours, TypeScript",
  py: "ours, Python",
  ref: `reference ${REFERENCE_VERSION}`,
  echo: "echo",
};
const SERVER = { ts: "ours", py: "ours", ref: "reference", echo: "echo" } as const;

/** One of the things compared, and its server. */
export interface Target {
  key: Key;
  label: string;
  server: Server;
}

/** The servers of `keys`, started on first use. */
export async function targets(ctx: Ctx, keys: Key[]): Promise<Target[]> {
  const out: Target[] = [];
  for (const key of keys) {
    out.push({ key, label: LABEL[key], server: await ctx.server(SERVER[key]) });
  }
  return out;
}

/** A request body for `key` and the stdout it must end with. */
interface Request {
  body: Record<string, unknown>;
  stdout: string;
  calls: number;
}

/** `console.log(1)` / `print(1)`. */
export function trivial(key: Key): Request {
  const code = key === "ts" || key === "echo" ? "console.log(1)" : "print(1)";
  const body: Record<string, unknown> = { code, tool_names: [] };
  if (key === "py") body.language = "python";
  if (key === "echo") body.echo = { args: [], stdout: "1\n" };
  return { body, stdout: "1\n", calls: 0 };
}

/** `n` sequential `await echo(base + i)`, printing their sum. */
export function loop(key: Key, n: number, base: number): Request {
  const code = key === "ts" || key === "echo"
    ? `import { echo } from "tools";\nlet s = 0;\n` +
      `for (let i = 0; i < ${n}; i++) s += await echo(${base} + i);\nconsole.log(s);\n`
    : `from tools import echo\ns = 0\nfor i in range(${n}):\n    s += await echo(${base} + i)\n` +
      `print(s)\n`;
  const stdout = `${n * base + (n * (n - 1)) / 2}\n`;
  const body: Record<string, unknown> = { code, tool_names: ["echo"] };
  if (key === "py") body.language = "python";
  if (key === "echo") body.echo = { args: Array.from({ length: n }, (_, i) => [base + i]), stdout };
  return { body, stdout, calls: n };
}

/** Executes `request` on `endpoint`; throws unless it succeeds with its stdout and calls. */
export async function run(
  endpoint: Endpoint,
  request: Request,
  what: string,
  answer?: (c: ToolCall) => unknown,
) {
  return expectSuccess(
    await execute(endpoint, request.body, answer),
    request.stdout,
    what,
    request.calls,
  );
}

// ---------------------------------------------------------------------------------------------
// What the sections measured, for the summary and the targets.

/** One throughput measurement (a number of clients, one server). */
export interface Throughput {
  rate: number;
  cpu: number;
  busy: number;
  client: number;
  latency: number;
  completed: number;
  failed: number;
  why?: string;
}

/** What the sections of this run measured so far (read by the `floors` section). */
export function measured(): Readonly<typeof results> {
  return results;
}

/** What the sections of this run measured, by section and key. */
export const results = {
  cpu: {} as Partial<Record<Key, { total: number; own: number; descendants: number; n: number }>>,
  throughput: new Map<number, Partial<Record<Key, Throughput>>>(),
  backToBack: {} as Partial<Record<Key, { p50: number; p95: number; max: number; n: number }>>,
  idle: {} as Partial<Record<Key, { p50: number; max: number; n: number }>>,
  roundTrip: {} as Partial<
    Record<Key, { p50: number; p95: number; mean: number; n: number; calls: number }>
  >,
  memory: {} as Partial<
    Record<
      Key,
      {
        perExecution: number;
        idle: number;
        held: number;
        k: number;
        processes: string;
        /** PSS of each process that appeared while the executions were held. */
        added: number[];
      }
    >
  >,
};

/** The concurrent clients of the `throughput` section. */
export const CLIENTS = [1, 8, 32];
