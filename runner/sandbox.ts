/**
 * One sandbox process, seen from the server: spawn it locked down, wait until it is warm,
 * exchange protocol lines, kill it. A sandbox serves exactly one execution and is then
 * discarded, so nothing of one program can reach the next.
 *
 * Invariants:
 * - The process has no `--allow-*` flag (Python: read access to the Pyodide files only), a
 *   cleared environment, `/` as its working directory, a unique `--location`, no remote or npm fetching, a V8 heap cap and,
 *   where `prlimit` exists, an RLIMIT_DATA cap that also bounds ArrayBuffers.
 * - The first stdin line is a random key; every stdout line must start with it and then parse
 *   with {@linkcode parseSandboxMessage}. The first line that does not is a violation: the
 *   process is killed and the listener told why. (The key lives in the sandbox's own realm,
 *   so the program cannot forge a message by writing to fd 1.)
 * - `exited` is delivered once, after the last message, whatever ended the process.
 *
 * @module
 */
import { chunks, readLines } from "./lines.ts";
import {
  parseSandboxMessage,
  type SandboxKind,
  type SandboxMessage,
  type ServerMessage,
} from "./sandbox_protocol.ts";

/** How a sandbox process ended. */
export interface SandboxExit {
  type: "exited";
  code: number;
  signal: Deno.Signal | null;
  /** The last few KiB the process wrote to stderr (the runtime's own fatal messages). */
  stderr: string;
  /** The process ran out of memory (heap cap or data rlimit). */
  outOfMemory: boolean;
}

/** The sandbox broke the protocol and was killed. */
export interface SandboxViolation {
  type: "violation";
  detail: string;
}

/** What a sandbox tells its listener. */
export type SandboxEvent =
  | Exclude<SandboxMessage, { type: "ready" }>
  | SandboxViolation
  | SandboxExit;

/** How to start sandbox processes. */
export interface SandboxSpawnOptions {
  kind: SandboxKind;
  /** The runtime binary. */
  denoPath: string;
  /** `prlimit` binary for the data rlimit, or `null` to run without one. */
  prlimitPath: string | null;
  /** V8 old-space cap in MiB. */
  heapMb: number;
  /** RLIMIT_DATA in MiB (heap, ArrayBuffers, wasm memory). */
  dataMb: number;
  /** Longest protocol line accepted from the sandbox, in characters. */
  maxLineLength: number;
  /** How long a sandbox may take to become ready. */
  readyTimeoutMs: number;
  /** Extra `deno run` flags and the entry module, per kind. */
  entry: { flags: string[]; module: string };
}

const STDERR_TAIL = 8 * 1024;
const OOM_PATTERN =
  /out of memory|heap limit|allocation failed|memory allocation of \d+ bytes failed/i;

/** A running sandbox process. */
export class Sandbox {
  readonly kind: SandboxKind;
  readonly pid: number;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #listener: ((event: SandboxEvent) => void) | undefined;
  #backlog: SandboxEvent[] = [];
  #alive = true;
  #encoder = new TextEncoder();
  #ready = Promise.withResolvers<Sandbox>();
  /** Starts every line from the sandbox's realm; the program never sees it. */
  #key = crypto.randomUUID().replaceAll("-", "");
  #isReady = false;
  #violation: SandboxViolation | undefined;
  /** Resolves once the process is gone and its last message was delivered. */
  readonly exited: Promise<SandboxExit>;

  private constructor(options: SandboxSpawnOptions) {
    const { cmd, args } = commandLine(options);
    this.kind = options.kind;
    const child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Nothing of the server's own directory: `Deno.cwd()` needs no permission.
      cwd: "/",
      clearEnv: true,
      env: sandboxEnv(),
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdin.closed.catch(() => {});
    this.#stdin.write(this.#encoder.encode(`${this.#key}\n`)).catch(() => {});
    const stderr = collectTail(this.#child.stderr, STDERR_TAIL);
    const stdoutDone = this.#readStdout(options.maxLineLength);
    this.exited = (async (): Promise<SandboxExit> => {
      const [status] = await Promise.all([child.status, stdoutDone]);
      const tail = await stderr;
      return {
        type: "exited",
        code: status.code,
        signal: status.signal,
        stderr: tail,
        // V8's fatal OOM traps (SIGTRAP, exit 133) after saying so on stderr; a program can
        // also send itself SIGTRAP, which says nothing.
        outOfMemory: OOM_PATTERN.test(tail),
      };
    })();
    this.exited.then((exit) => {
      this.#alive = false;
      this.#emit(exit);
      const why = this.#violation?.detail ??
        (exit.stderr.trim().split("\n").slice(-3).join("\n") || `exit code ${exit.code}`);
      this.#ready.reject(new Error(`Sandbox did not start: ${why}`));
    });
    const timer = setTimeout(() => {
      if (this.#isReady) return;
      this.kill();
      this.#ready.reject(new Error(`Sandbox did not start within ${options.readyTimeoutMs} ms`));
    }, options.readyTimeoutMs);
    this.#ready.promise.finally(() => clearTimeout(timer)).catch(() => {});
  }

  /**
   * Spawns a sandbox and resolves when it reports ready. Rejects (and kills the process) if it
   * exits, breaks the protocol or takes longer than `readyTimeoutMs`.
   */
  static spawn(options: SandboxSpawnOptions): Promise<Sandbox> {
    try {
      return new Sandbox(options).#ready.promise;
    } catch (error) {
      // The binary is missing or not executable.
      const why = error instanceof Error ? error.message : String(error);
      return Promise.reject(new Error(`Sandbox did not start: ${why}`));
    }
  }

  async #readStdout(maxLineLength: number): Promise<void> {
    try {
      for await (const line of readLines(this.#child.stdout, maxLineLength)) {
        const message = line.startsWith(this.#key)
          ? parseSandboxMessage(line.slice(this.#key.length))
          : undefined;
        if (message === undefined || (message.type === "ready") === this.#isReady) {
          this.#violation = { type: "violation", detail: describeLine(line, this.#key) };
          break;
        }
        if (message.type === "ready") {
          this.#isReady = true;
          this.#ready.resolve(this);
        } else this.#emit(message);
      }
    } catch (error) {
      this.#violation = { type: "violation", detail: String(error) };
    }
    if (this.#violation) {
      this.kill();
      this.#emit(this.#violation);
    }
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Receives every event from now on (events that came before are replayed at once). */
  listen(listener: (event: SandboxEvent) => void): void {
    this.#listener = listener;
    for (const event of this.#backlog.splice(0)) listener(event);
  }

  /** Sends one message; a dead sandbox drops it (its `exited` event follows). */
  send(message: ServerMessage): void {
    if (!this.#alive) return;
    this.#stdin.write(this.#encoder.encode(JSON.stringify(message) + "\n")).catch(() => {});
  }

  /** Kills the process at once (SIGKILL). Safe to call many times. */
  kill(): void {
    if (!this.#alive) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  #emit(event: SandboxEvent): void {
    if (this.#listener) this.#listener(event);
    else this.#backlog.push(event);
  }
}

/** `deno run` flags every sandbox process starts with: no prompt, config, lock or fetching. */
export const LOCKED_RUN_FLAGS: readonly string[] = [
  "run",
  "--quiet",
  "--no-prompt",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--cached-only",
];

/**
 * The whole environment of a sandbox process: what Deno needs to find its cache, nothing else of
 * the server's environment (its API key above all).
 */
export function sandboxEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["DENO_DIR", "HOME", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function commandLine(options: SandboxSpawnOptions): { cmd: string; args: string[] } {
  const deno = [
    ...LOCKED_RUN_FLAGS,
    `--location=http://sandbox-${crypto.randomUUID()}.progtc.invalid/`,
    `--v8-flags=--max-old-space-size=${options.heapMb}`,
    ...options.entry.flags,
    options.entry.module,
  ];
  if (options.prlimitPath === null) return { cmd: options.denoPath, args: deno };
  const data = options.dataMb * 1024 * 1024;
  return {
    cmd: options.prlimitPath,
    args: [`--data=${data}:${data}`, "--", options.denoPath, ...deno],
  };
}

function describeLine(line: string, key: string): string {
  const text = line.startsWith(key) ? line.slice(key.length) : line;
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return `unexpected line from sandbox: ${JSON.stringify(shown)}`;
}

async function collectTail(stream: ReadableStream<Uint8Array>, max: number): Promise<string> {
  const decoder = new TextDecoder();
  let tail = "";
  try {
    for await (const chunk of chunks(stream, 4096)) {
      tail += decoder.decode(chunk, { stream: true });
      if (tail.length > max * 2) tail = tail.slice(-max);
    }
  } catch {
    // The process is gone.
  }
  return tail.slice(-max);
}
