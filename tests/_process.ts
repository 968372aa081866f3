/**
 * Test helpers for servers in their own process: `deno ...` subprocesses whose output is
 * collected, optionally under a lowered `ulimit -n`, and what `/proc` says of them.
 *
 * @module
 */
import { ProgtcClient } from "../client/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** A port that was free a moment ago (the server under test binds it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A `deno ...` subprocess in the repository, its output collected as it comes. */
export class DenoProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  output = "";
  #changed = Promise.withResolvers<void>();
  #reading: Promise<void>;

  /** Runs `deno <args>` (in the repository, or `cwd`); with `nofile`, under `ulimit -n <nofile>`. */
  constructor(args: string[], env?: Record<string, string>, nofile?: number, cwd = ROOT) {
    const command = nofile === undefined ? Deno.execPath() : "sh";
    this.child = new Deno.Command(command, {
      args: nofile === undefined
        ? args
        : ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, Deno.execPath(), ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(env ? { env, clearEnv: true } : {}),
    }).spawn();
    this.#reading = Promise.all([this.#read(this.child.stdout), this.#read(this.child.stderr)])
      .then(() => this.#changed.resolve());
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      this.output += text;
      const changed = this.#changed;
      this.#changed = Promise.withResolvers();
      changed.resolve();
    }
  }

  /** Resolves with the first match of `pattern` in the output; throws after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const match = this.output.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No ${pattern} in the output:\n${this.output}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#changed.promise,
        this.child.status,
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  }

  /** Waits for the exit; sends SIGTERM, then SIGKILL, if it takes longer than `timeoutMs`. */
  async exit(timeoutMs = 20_000): Promise<Deno.CommandStatus & { timedOut: boolean }> {
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killer = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        this.#kill("SIGTERM");
        timer = setTimeout(() => resolve(this.#kill("SIGKILL")), 5000);
      }, timeoutMs);
    });
    const status = await Promise.race([this.child.status, killer.then(() => this.child.status)]);
    clearTimeout(timer);
    await this.#reading;
    return { ...status, timedOut };
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.exit(0);
  }
}

/** This process's environment without `PROGTC_*` variables, and with `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("PROGTC_")),
  );
  return { ...env, ...extra };
}

/** What a command line that ends by itself gave: its exit code and its output. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <args>` in the repository to its end (killed after `timeoutMs`). */
export async function runDeno(
  args: string[],
  env: Record<string, string> = cleanEnv(),
  timeoutMs = 30_000,
): Promise<Finished> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A progtc server in its own process (`deno run -A cli.ts serve`). */
export interface ServerProcess extends AsyncDisposable {
  process: DenoProcess;
  pid: number;
  url: string;
  client: ProgtcClient;
}

/**
 * Starts `cli.ts serve` on a free port with the test key and `args`, and waits until it
 * answers; with `nofile`, under `ulimit -n <nofile>`.
 */
/** The strict mode's flags (`TEST_HOST_MAX_PROGRAMS`), unless `args` set programs per host. */
function strictArgs(args: string[]): string[] {
  const programs = Deno.env.get("TEST_HOST_MAX_PROGRAMS");
  if (!programs || args.some((arg) => arg.includes("host-max-programs"))) return [];
  return ["--host-max-programs", programs, "--python-host-max-programs", programs];
}

export async function spawnServer(
  args: string[] = [],
  options: { nofile?: number; apiKey?: string } = {},
): Promise<ServerProcess> {
  const port = freePort();
  const apiKey = options.apiKey ?? "test-key";
  // As `deno task serve` runs it: its V8 flags and allocator setting shape its memory.
  const process = new DenoProcess(
    [
      "run",
      "-A",
      "--v8-flags=--max-semi-space-size=2",
      "cli.ts",
      "serve",
      "--port",
      String(port),
      "--api-key",
      apiKey,
      ...strictArgs(args),
      ...args,
    ],
    { ...Deno.env.toObject(), MALLOC_MMAP_THRESHOLD_: "65536" },
    options.nofile,
  );
  const url = `http://127.0.0.1:${port}`;
  const client = new ProgtcClient({ baseUrl: url, apiKey });
  try {
    await client.waitForServer({ timeoutMs: 30_000 });
  } catch (error) {
    await process.exit(0);
    throw new Error(`The server did not start: ${error}\n${process.output}`);
  }
  return {
    process,
    pid: process.child.pid,
    url,
    client,
    [Symbol.asyncDispose]: async () => {
      try {
        process.child.kill("SIGTERM");
      } catch {
        // It has exited already (a test killed it).
      }
      await process.exit();
    },
  };
}

/** A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`: the peak). */
export function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"));
  if (!match) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** File descriptors `pid` holds open. */
export function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}
