/**
 * Faults (issue 5), one concern a file in this folder: a fake host that breaks the protocol
 * itself (`host_faults_test.ts`) or in a program's lines (`program_faults_test.ts`), real
 * sandboxes that crash (`crashes_test.ts`), sandboxes that cannot start (`unavailable_test.ts`),
 * clients that disconnect at any point (`disconnects_test.ts`), a tool result for an execution
 * that already ended (`late_tool_results_test.ts`), SIGTERM to the server (`sigterm_test.ts`).
 * Each one ends with what happened said once, leaves no sandbox process behind, and the server
 * keeps serving.
 *
 * This module holds what more than one of them uses: the sandbox processes a test's server
 * leaves (this process's children), the one warm sandbox the next execution runs in, and the
 * wait for a sandbox to be killed.
 *
 * @module
 */
import { API_KEY, waitFor } from "../_helpers.ts";

/** The repository's root, ending in `/`. */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** Headers of a client that asks for strict handling (a tool result not pending is a 409). */
export const STRICT = { "x-progtc-api-key": API_KEY, prefer: "handling=strict" };

/** Live (not zombie) child processes of `parent`, without the `ps` that lists them. */
export async function liveChildren(parent: number = Deno.pid): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=,comm=", "--ppid", String(parent)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat, comm]) => pid && !stat?.startsWith("Z") && comm !== "ps")
    .map(([pid]) => Number(pid));
}

/** Those of `pids` that are still live processes (whoever their parent is now). */
export async function anyAlive(pids: number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=", "-p", pids.join(",")],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && !stat?.startsWith("Z")).map(([pid]) => Number(pid));
}

/** The one warm sandbox of a server with `poolSize: 1`: the next execution runs in it. */
export async function nextSandbox(): Promise<number> {
  let children: number[] = [];
  // An earlier server's idle sandboxes were killed, not waited for: let them go first.
  await waitFor(
    "one warm sandbox",
    async () => (children = await liveChildren()).length === 1,
    2000,
  ).catch((error) => {
    throw new Error(`${error.message} (pids ${children.join(", ")})`);
  });
  return children[0]!;
}

/** Waits until `pid` is gone and only the warm pool (one sandbox) is left. */
export async function assertKilled(pid: number, what: string, timeoutMs = 3000): Promise<void> {
  await waitFor(
    `${what}: sandbox ${pid} is killed`,
    async () => (await anyAlive([pid])).length === 0,
    timeoutMs,
  );
  await waitFor(
    `${what}: only the warm pool is left`,
    async () => (await liveChildren()).length <= 1,
  );
}
