/**
 * References that take HTTP out of the picture: the progtc sandbox driven directly through the
 * runner (run message in, tool calls answered from the bench process), and a bare Deno child
 * process that answers lines on its pipes, directly or through a relay worker.
 *
 * @module
 */
import { runMessage, type Runner } from "../runner/runner.ts";
import { readLines } from "../runner/lines.ts";

const LIMITS = { maxOutputBytes: 1 << 20, maxToolArgsBytes: 1 << 20, reportIdle: false };

/**
 * Runs `calls` sequential echo calls in one sandbox taken from `runner`, answering each call
 * `idleMs` after it arrived (busy wait, so the bench process stays awake while the sandbox
 * idles). Returns the time from writing each result to parsing the next call.
 */
export async function sandboxEcho(runner: Runner, calls: number, idleMs = 0): Promise<number[]> {
  const sandbox = await runner.acquire("typescript");
  const times: number[] = [];
  let sent = 0;
  const done = Promise.withResolvers<void>();
  sandbox.listen((event) => {
    if (event.type === "tool_call") {
      if (sent) times.push(performance.now() - sent);
      const until = performance.now() + idleMs;
      while (performance.now() < until) { /* the sandbox waits for its result */ }
      sent = performance.now();
      sandbox.send({ type: "tool_result", id: event.id, value: event.args[0] ?? null });
    } else if (event.type === "success") done.resolve();
    else if (event.type !== "output") done.reject(new Error(`Sandbox run: ${event.type}`));
  });
  const code = `import { echo } from "tools";\nfor (let i = 0; i < ${calls}; i++) await echo(i);\n`;
  sandbox.send(runMessage("typescript", code, ["echo"], LIMITS));
  try {
    await done.promise;
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
  return times;
}

/**
 * The sandbox alone running `code` with no tools. Takes a sandbox from `runner` (which starts a
 * replacement), awaits `settle` if given, then sends the run message. Returns the time to take
 * the sandbox and the time from the run message to the success message.
 */
export async function sandboxRun(
  runner: Runner,
  code: string,
  settle?: () => Promise<void>,
): Promise<{ acquireMs: number; runMs: number }> {
  const started = performance.now();
  const sandbox = await runner.acquire("typescript");
  const acquireMs = performance.now() - started;
  try {
    await settle?.();
    const done = Promise.withResolvers<void>();
    sandbox.listen((event) => {
      if (event.type === "success") done.resolve();
      else if (event.type !== "output") done.reject(new Error(`Sandbox run: ${event.type}`));
    });
    const sent = performance.now();
    sandbox.send(runMessage("typescript", code, [], LIMITS));
    await done.promise;
    return { acquireMs, runMs: performance.now() - sent };
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
}

/**
 * `n` lines through a bare Deno child process (`_pipe_echo.ts`): the time from writing each
 * line to reading its answer.
 */
export async function pipeEcho(
  mode: "direct" | "worker" | "worker-out",
  n: number,
): Promise<number[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      new URL("_pipe_echo.ts", import.meta.url).pathname,
      mode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = readLines(child.stdout);
  const encoder = new TextEncoder();
  const times: number[] = [];
  try {
    await lines.next(); // ready
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await writer.write(
        encoder.encode(JSON.stringify({ type: "tool_result", id: i, value: i }) + "\n"),
      );
      if ((await lines.next()).done) throw new Error("Pipe echo ended early");
      times.push(performance.now() - started);
    }
  } finally {
    await writer.close().catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.status;
    clearTimeout(timer);
    await lines.return(undefined);
  }
  return times;
}
