/**
 * Helpers of the adversarial suite: run one attempt through a real server and check what
 * came back, then prove the server still serves.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult, Language, ToolCall, ToolHandler } from "../../client/mod.ts";
import type { TestServer } from "../_helpers.ts";

export { assertStillServes, startServer, type TestServer } from "../_helpers.ts";
import { startServer, waitFor } from "../_helpers.ts";

/**
 * A server with no warm pool: its first program starts one sandbox host, and every later program
 * runs in that host for as long as it is reused. Tests of what carries over between programs
 * use it, so that two programs in a row share a host unless it was retired.
 */
export function startOneHostServer(
  options: Parameters<typeof startServer>[0] = {},
): Promise<TestServer> {
  return startServer({ poolSize: 0, ...options });
}

/** What one attempt produced. */
export interface Attempt {
  /** The terminal result the client returned. */
  result: ExecuteCodeResult;
  /** Every tool call frame that reached the client, in order. */
  calls: ToolCall[];
  /** Wall time of the execution, in ms. */
  ms: number;
}

/** Options of {@linkcode attempt}. */
export interface AttemptOptions {
  /** The tools the program is given. */
  tools?: Record<string, ToolHandler>;
  /** @default {"typescript"} */
  language?: Language;
}

/** Runs `code` through the server's real client and records the tool calls that reached it. */
export async function attempt(
  server: TestServer,
  code: string,
  options: AttemptOptions = {},
): Promise<Attempt> {
  const calls: ToolCall[] = [];
  const started = performance.now();
  const result = await server.client.executeCode({
    code,
    tools: options.tools ?? {},
    ...(options.language ? { language: options.language } : {}),
    onToolCall: (call) => calls.push(call),
  });
  return { result, calls, ms: performance.now() - started };
}

/**
 * Asserts the program ended with the permission error Deno raises for `kind` on `target`,
 * thrown from the user's code (`code.ts` or `code.js`) unless `fromUserFrame` is false (a denial raised
 * later, from a callback of the runtime).
 */
export function assertNotCapable(
  result: ExecuteCodeResult,
  kind: "read" | "write" | "net" | "env" | "run" | "ffi" | "sys",
  target?: string,
  fromUserFrame = true,
): void {
  strictEqual(result.type, "runtime_error", `expected a denial, got: ${JSON.stringify(result)}`);
  const what = target === undefined ? "" : ` to ${JSON.stringify(target)}`;
  const expected = `NotCapable: Requires ${kind} access${what}, which programs here do not have`;
  ok(result.stderr.startsWith(expected), `expected ${expected}, got: ${result.stderr}`);
  if (fromUserFrame) {
    ok(/\bcode\.[jt]s:\d+:\d+/.test(result.stderr), `no user frame in: ${result.stderr}`);
  }
}

/** Asserts `secret` appears nowhere in the program's output. */
export function assertNotLeaked(result: ExecuteCodeResult, secret: string): void {
  ok(!result.stdout.includes(secret), `stdout leaks ${JSON.stringify(secret)}: ${result.stdout}`);
  ok(!result.stderr.includes(secret), `stderr leaks ${JSON.stringify(secret)}: ${result.stderr}`);
}

/**
 * Whether process `pid` still runs (a zombie counts as gone). Asks `ps`: reading
 * `/proc/<pid>` needs `--allow-all`, while the test task grants `--allow-run`.
 */
export async function isRunning(pid: number): Promise<boolean> {
  const { success, stdout } = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const state = new TextDecoder().decode(stdout).trim();
  return success && state !== "" && !state.startsWith("Z") && !state.startsWith("X");
}

/** Asserts process `pid` is gone within `withinMs`. */
export async function assertProcessGone(pid: number, withinMs = 2000): Promise<void> {
  await waitFor(`sandbox process ${pid} is gone`, async () => !await isRunning(pid), withinMs);
}

/** The pid a program printed as its first stdout line (`console.log(Deno.pid)`). */
export function printedPid(result: ExecuteCodeResult): number {
  const pid = Number(result.stdout.split("\n")[0]);
  ok(Number.isSafeInteger(pid) && pid > 0, `no pid in stdout: ${result.stdout}`);
  return pid;
}

/** Resident memory of process `pid`, in MiB (from `/proc/<pid>/status`). */
export function rssMib(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN) / 1024;
}

/** A fresh random marker, for secrets and file names. */
export function marker(prefix = "progtc-secret"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** A program's first line that prints its sandbox's pid (see {@linkcode printedPid}). */
export const PID = `console.log(Deno.pid);`;

/** Runs `second` after `first`; returns both results and whether one host ran both. */
export async function twoPrograms(
  server: TestServer,
  first: string,
  second: string,
  tools: Record<string, (...args: never[]) => unknown> = {},
) {
  const a = await attempt(server, `${PID}\n${first}`, { tools });
  strictEqual(a.result.type, "success", a.result.stderr);
  const b = await attempt(server, `${PID}\n${second}`, { tools });
  strictEqual(b.result.type, "success", b.result.stderr);
  const firstPid = printedPid(a.result);
  const secondPid = printedPid(b.result);
  return {
    first: a.result.stdout.slice(`${firstPid}\n`.length),
    second: b.result.stdout.slice(`${secondPid}\n`.length),
    secondResult: b.result,
    firstPid,
    reused: firstPid === secondPid,
  };
}
