/**
 * SIGTERM to the server (`cli.ts serve` in its own process): with `--drain-timeout 0`, every
 * running execution, stream or step, ends with a terminal frame saying the server is shutting
 * down, the server exits 0 within seconds, and no sandbox outlives it.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { API_KEY, delay, openStream, post, waitFor } from "../_helpers.ts";
import { anyAlive, liveChildren, ROOT } from "./_faults.ts";

/** Resolves as `promise`, or rejects once `ms` have passed. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`Not within ${ms} ms: ${what}`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free port a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** CPU time process `pid` has used, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** `cli.ts serve` as a user starts it, its output collected. */
class CliServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  output = "";
  #reading: Promise<unknown>;
  #watching: Promise<void> | undefined;
  /** Every sandbox pid seen, to kill leftovers if the server fails to. */
  seen = new Set<number>();

  constructor(port: number, args: string[] = []) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "cli.ts",
        "serve",
        "--port",
        String(port),
        "--api-key",
        API_KEY,
        "--pool-size",
        "1",
        ...args,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this.output += text;
    };
    this.#reading = Promise.all([read(this.child.stdout), read(this.child.stderr)]);
  }

  async sandboxes(): Promise<number[]> {
    const pids = await liveChildren(this.child.pid);
    for (const pid of pids) this.seen.add(pid);
    return pids;
  }

  /** Lists the server's children until it exits, so that `seen` has every sandbox. */
  watchUntilExit(): Promise<void> {
    let exited = false;
    this.child.status.then(() => exited = true);
    return this.#watching ??= (async () => {
      while (!exited) {
        await this.sandboxes();
        await delay(10);
      }
    })();
  }

  async ready(): Promise<void> {
    await waitFor("the CLI listens", () => this.output.includes("listening on"), 30_000);
    await waitFor("the pool is warm", async () => (await this.sandboxes()).length >= 1, 10_000);
  }

  /** Resolves with the exit status, or `undefined` if the process still runs after `ms`. */
  async exitWithin(ms: number): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.child.status,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
    ]);
    clearTimeout(timer);
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#reading;
    await this.#watching;
    for (const pid of await anyAlive([...this.seen])) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

Deno.test("SIGTERM with --drain-timeout 0 ends every running execution with a terminal frame, then the server exits 0", async () => {
  await using cli = new CliServer(freePort(), ["--drain-timeout", "0"]);
  await cli.ready();
  const waiting = await openStream(cli.url, {
    code: `import { never } from "tools"; console.log("waiting"); await never();`,
    tool_names: ["never"],
  });
  strictEqual((await waiting.next()).type, "tool_call");
  const spinning = await openStream(cli.url, {
    code: `console.log("spinning"); while (true) {}`,
    tool_names: [],
    stream_output: true,
  });
  deepStrictEqual(await spinning.next(), { type: "stdout", data: "spinning\n" });
  const sandboxes = await cli.sandboxes();
  ok(sandboxes.length >= 2, `sandboxes: ${sandboxes.join(", ")}`);

  const watching = cli.watchUntilExit();
  const signalled = performance.now();
  cli.child.kill("SIGTERM");
  const [waited, spun] = await within(
    5000,
    "the terminal frames",
    Promise.all([waiting.rest(), spinning.rest()]),
  );
  deepStrictEqual(waited, [{
    type: "runtime_error",
    stdout: "waiting\n",
    stderr: "Error: the server is shutting down\n",
  }]);
  deepStrictEqual(spun, [{
    type: "runtime_error",
    stdout: "spinning\n",
    stderr: "Error: the server is shutting down\n",
  }]);
  const status = await cli.exitWithin(5000);
  ok(status, `the server still runs 5 s after SIGTERM:\n${cli.output}`);
  strictEqual(status.code, 0, cli.output);
  const seconds = (performance.now() - signalled) / 1000;
  ok(seconds < 5, `took ${seconds} s`);
  match(cli.output, /SIGTERM: refusing new executions, draining running ones/);
  match(cli.output, /drain timeout: ending 2 executions still running/);
  strictEqual(cli.output.match(/runtime_error \(the server is shutting down\)/g)?.length, 2);
  await watching;
  await waitFor(
    "no sandbox survives the server",
    async () => (await anyAlive([...cli.seen])).length === 0,
    2000,
  );
});

Deno.test("SIGTERM with --drain-timeout 0 during a running step answers it with a terminal result, then the server exits 0", async () => {
  await using cli = new CliServer(freePort(), [
    "--code-execution-timeout",
    "20",
    "--drain-timeout",
    "0",
  ]);
  await cli.ready();
  const step = post(`${cli.url}/execute-code-step`, {
    code: `console.log("spinning"); while (true) {}`,
    tool_names: [],
  }).catch((error: unknown) => error);
  // The program spins: its host (whichever of the pool took it) burns a core, for longer than
  // a start-up could (~300 ms of CPU in all), even when the suite's other file shares the cores.
  await waitFor("the step spins", async () => {
    const hosts = await cli.sandboxes();
    const before = hosts.map(cpuMs);
    await delay(600);
    return hosts.some((host, i) => cpuMs(host) - before[i]! >= 350);
  });
  const watching = cli.watchUntilExit();
  cli.child.kill("SIGTERM");
  const status = await cli.exitWithin(5000);
  ok(status, `the server still runs 5 s after SIGTERM (a running step holds it):\n${cli.output}`);
  strictEqual(status.code, 0, cli.output);
  const response = await step;
  ok(response instanceof Response, `the step request failed: ${response}`);
  strictEqual(response.status, 200);
  deepStrictEqual(await response.json(), {
    type: "runtime_error",
    stdout: "spinning\n",
    stderr: "Error: the server is shutting down\n",
  });
  await watching;
  await waitFor(
    "no sandbox survives the server",
    async () => (await anyAlive([...cli.seen])).length === 0,
    2000,
  );
});
