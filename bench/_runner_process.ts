/**
 * The runner alone in a process of its own, for the memory diagnosis: the same sandboxes, pipes
 * and protocol as a progtc server, with no HTTP. Speaks the `_server_process.ts` line protocol
 * (reports are {@linkcode ServerReport}s with an empty URL), plus `load <n> <seed>`: run `n`
 * executions of the load-test program at once, answering each tool call after a random
 * 0–50 ms delay, and report when all have ended (throws on a wrong stdout).
 *
 * `deno run --allow-read --allow-env --allow-run [--allow-ffi] _runner_process.ts <pool size>`
 *
 * @module
 */
import { runMessage, Runner } from "../runner/runner.ts";
import { readLines } from "../runner/lines.ts";
import { answer, expectedStdout, loadProgram, seededRandom } from "./_load_client.ts";
import { mallocInfo, mallocTrim } from "./_malloc.ts";
import type { ServerReport } from "./_server_process.ts";

const LIMITS = { maxOutputBytes: 1 << 20, maxToolArgsBytes: 1 << 20, reportIdle: false };
const CALLS = 10;

async function execute(runner: Runner, index: number, random: () => number): Promise<void> {
  const sandbox = await runner.acquire("typescript");
  let stdout = "";
  const done = Promise.withResolvers<void>();
  sandbox.listen((event) => {
    if (event.type === "tool_call") {
      const [who, k] = event.args as [number, number];
      setTimeout(() => {
        sandbox.send({ type: "tool_result", id: event.id, value: answer(who, k) });
      }, random() * 50);
    } else if (event.type === "output") stdout += event.data;
    else if (event.type === "success") done.resolve();
    else done.reject(new Error(`Runner load: ${event.type}`));
  });
  sandbox.send(runMessage("typescript", loadProgram(index, CALLS), ["step"], LIMITS));
  try {
    await done.promise;
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
  if (stdout !== expectedStdout(index, CALLS)) throw new Error(`Runner load: wrong stdout`);
}

if (import.meta.main) {
  const runner = await Runner.create({
    poolSize: Number(Deno.args[0] ?? 2),
    pythonPoolSize: 0,
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const report = (collected = false) => {
    const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
    const out: ServerReport = {
      url: "",
      pid: Deno.pid,
      rss,
      heapUsed,
      heapTotal,
      external,
      running: 0,
      collected,
    };
    const malloc = ffi ? mallocInfo() : undefined;
    if (malloc) out.malloc = malloc;
    console.log(JSON.stringify(out));
  };
  await runner.warm();
  report();
  for await (const line of readLines(Deno.stdin.readable)) {
    const [command, a, b] = line.trim().split(/\s+/);
    if (command === "load") {
      const random = seededRandom(Number(b ?? 1));
      await Promise.all(
        Array.from({ length: Number(a ?? 1) }, (_, i) => execute(runner, i, random)),
      );
      report();
    } else if (command === "gc") {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc?.();
      report(gc !== undefined);
    } else if (command === "trim") {
      if (ffi) mallocTrim();
      report();
    } else if (command === "now") report();
    else {
      await runner.warm();
      await new Promise((resolve) => setTimeout(resolve, Number(a ?? 200)));
      report();
    }
  }
  runner.close();
}
