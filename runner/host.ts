/**
 * One sandbox host process, seen from the server: spawn it locked down, lend it to one execution
 * at a time, check it through `/proc` before every program, kill it on anything unusual.
 *
 * Invariants:
 * - The process has no `--allow-*` flag (Python: read access to the Pyodide files only), a
 *   cleared environment, `/` as its working directory, a unique `--location`, no remote or npm
 *   fetching, a V8 heap cap per isolate and, where `prlimit` exists, an RLIMIT_DATA cap that
 *   also bounds ArrayBuffers and wasm memory.
 * - The first stdin line is a random host key; every stdout line must start with it (the host's
 *   own realm) or with the current execution's key (its program's worker) and then parse. The
 *   first line that does not is a violation: the process is killed.
 * - A host takes a program only when it said `ready` and {@linkcode checkHost} found it idle: no
 *   thread of the previous program is left, nothing else reads its stdin.
 * - A host runs another program only after a clean end: the execution says the program ended
 *   by itself within its limits (`finish(true)`), and the host is under its reuse limits (runs,
 *   age, memory). Every other end kills it.
 * - `exited` resolves once, after the last line was handled, whatever ended the process.
 *
 * @module
 */
import { newId } from "../protocol.ts";
import { checkHost } from "./host_check.ts";
import type { MemoryCgroups } from "./cgroups.ts";
import { chunks, readLines } from "./lines.ts";
import type { Sandbox, SandboxEvent, SandboxExit } from "./sandbox.ts";
import {
  encodeHostInput,
  type HostInput,
  isEndMessage,
  parseHostMessage,
  parseProgramMessage,
  type ProgramMessage,
  type SandboxKind,
  type ServerMessage,
} from "./sandbox_protocol.ts";

/** How to start sandbox host processes, and when to stop reusing one. */
export interface HostOptions {
  kind: SandboxKind;
  /** The runtime binary. */
  denoPath: string;
  /** `prlimit` binary for the data rlimit, or `null` to run without one. */
  prlimitPath: string | null;
  /** V8 old-space cap per isolate, in MiB. */
  heapMb: number;
  /** More V8 flags of this kind of host. */
  v8Flags: string[];
  /** RLIMIT_DATA in MiB (heaps, ArrayBuffers, wasm memory of the whole process). */
  dataMb: number;
  /** Longest protocol line accepted from the host, in characters. */
  maxLineLength: number;
  /** How long a host may take to become ready, at start and between programs, in ms. */
  readyTimeoutMs: number;
  /** Extra `deno run` flags and the entry module. */
  entry: { flags: string[]; module: string };
  /** Whether hosts run more than one program (`/proc` checks are possible). */
  reuse: boolean;
  /** Programs a host runs before it is retired. */
  maxRuns: number;
  /** Age after which a host takes no more programs, in ms. */
  maxAgeMs: number;
  /** Resident memory above which a host takes no more programs, in bytes. */
  maxRssBytes: number;
  /** Where each host gets a memory cgroup (when the bound is a cgroup). */
  cgroups: MemoryCgroups;
  /** The memory one host may use: its cgroup's limit, and what admission charges for it. */
  memoryBytes: number;
}

/** Where a host is in its life. */
export type HostState = "starting" | "ready" | "leased" | "recycling" | "dead";

const STDERR_TAIL = 8 * 1024;
/**
 * What the runtime prints when the process runs out of memory: V8's fatal out-of-memory (then it
 * traps), Rust's failed allocation under the data rlimit (then it aborts). Looked for only in
 * what the process wrote to stderr since its current program started: a program can write
 * anything to fd 2, but only about its own end.
 */
const OOM_PATTERN =
  /out of memory|heap limit|allocation failed|memory allocation of \d+ bytes failed/i;

/** How long the checks may wait for the previous program's threads to go away. */
const SETTLE_MS = 250;

const encoder = new TextEncoder();

/** A running sandbox host process. */
export class SandboxHost {
  readonly kind: SandboxKind;
  readonly pid: number;
  readonly startedAt: number = performance.now();
  /** Resolves once the process is gone and its last line was handled. */
  readonly exited: Promise<SandboxExit>;
  #options: HostOptions;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #key = newId();
  #state: HostState = "starting";
  #lease: Lease | undefined;
  #runs = 0;
  #rssBytes = 0;
  #ready = Promise.withResolvers<SandboxHost>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #why: string | undefined;
  /** A worker of this host could not start: it takes no more programs. */
  #broken = false;
  #stderr: StderrTail;
  /** Called when the host is idle again after a program. */
  onIdle: (() => void) | undefined;

  private constructor(options: HostOptions) {
    this.#options = options;
    this.kind = options.kind;
    const { cmd, args } = commandLine(options);
    const cgroup = options.cgroups.create(options.memoryBytes);
    const child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Nothing of the server's own directory: `Deno.cwd()` needs no permission.
      cwd: "/",
      clearEnv: true,
      env: { ...sandboxEnv(), ...sandboxRuntime(options.denoPath).env },
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.#stdin = child.stdin.getWriter();
    this.#stdin.closed.catch(() => {});
    try {
      // Into its cgroup before it has its key: no program runs outside it.
      cgroup?.attach(child.pid);
    } catch (error) {
      this.kill(`it could not join its memory cgroup: ${error}`);
    }
    this.#write(this.#key);
    const stderr = new StderrTail(child.stderr, STDERR_TAIL);
    this.#stderr = stderr;
    const stdoutDone = this.#readStdout();
    this.exited = (async (): Promise<SandboxExit> => {
      const [status] = await Promise.all([child.status, stdoutDone]);
      const tail = await stderr.done;
      // The kernel killed it at its cgroup's limit (SIGKILL, and nothing said).
      const cgroupOom = cgroup?.oomKilled() ?? false;
      cgroup?.remove();
      return {
        type: "exited",
        code: status.code,
        signal: status.signal,
        stderr: tail,
        outOfMemory: cgroupOom || OOM_PATTERN.test(tail),
      };
    })();
    this.exited.then((exit) => {
      this.#state = "dead";
      clearTimeout(this.#timer);
      this.#lease?.gone(exit);
      const why = this.#why ??
        (exit.stderr.trim().split("\n").slice(-3).join("\n") || `exit code ${exit.code}`);
      this.#ready.reject(new Error(`Sandbox did not start: ${why}`));
    });
    this.#ready.promise.catch(() => {});
    this.#arm(options.readyTimeoutMs, "did not start in time");
  }

  /**
   * Spawns a host and resolves once it is ready and checked. Rejects (and kills the process) if
   * it exits, breaks the protocol or takes longer than `readyTimeoutMs`.
   */
  static spawn(options: HostOptions): Promise<SandboxHost> {
    try {
      return new SandboxHost(options).#ready.promise;
    } catch (error) {
      // The binary is missing or not executable.
      const why = error instanceof Error ? error.message : String(error);
      return Promise.reject(new Error(`Sandbox did not start: ${why}`));
    }
  }

  /** Where the host is in its life. */
  get state(): HostState {
    return this.#state;
  }

  /** Programs this host has run or is running. */
  get runs(): number {
    return this.#runs;
  }

  /** Resident memory at the last check, in bytes. */
  get rssBytes(): number {
    return this.#rssBytes;
  }

  /** Why the host was killed, if it was. */
  get why(): string | undefined {
    return this.#why;
  }

  /** Lends the (ready) host to one execution. */
  lease(): Sandbox {
    if (this.#state !== "ready") throw new Error(`Cannot lease a host that is ${this.#state}`);
    this.#state = "leased";
    this.#runs++;
    // What an earlier program wrote to fd 2 says nothing about this one.
    this.#stderr.clear();
    this.#lease = new Lease(this, newId(), this.#runs - 1);
    return this.#lease;
  }

  /** Kills the process at once (SIGKILL). Safe to call many times. */
  kill(why: string): void {
    if (this.#state === "dead") return;
    this.#why ??= why;
    clearTimeout(this.#timer);
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  /** Writes one line to the host (a dead or dying host drops it). */
  send(message: HostInput): void {
    this.#write(encodeHostInput(message));
  }

  /** The lease's execution is over. */
  finished(lease: Lease, reusable: boolean): void {
    if (lease !== this.#lease || this.#state !== "leased") return;
    const o = this.#options;
    const retire = !reusable
      ? "its program did not end cleanly"
      : !o.reuse
      ? "hosts are not reused"
      : this.#broken
      ? "its next worker failed"
      : this.#runs >= o.maxRuns
      ? "it ran its last program"
      : performance.now() - this.startedAt >= o.maxAgeMs
      ? "it is too old"
      : !lease.ended
      ? "its program did not end"
      : undefined;
    if (retire !== undefined) return this.kill(retire);
    this.#state = "recycling";
    if (lease.reading) this.send({ type: "release" });
    this.#arm(o.readyTimeoutMs, "did not become ready after its program");
    if (lease.readySeen) this.#check(lease.readySeen);
  }

  #arm(ms: number, why: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.kill(why), ms);
  }

  #write(line: string): void {
    if (this.#state === "dead") return;
    this.#stdin.write(encoder.encode(`${line}\n`)).catch(() => {});
  }

  async #readStdout(): Promise<void> {
    try {
      for await (const line of readLines(this.#child.stdout, this.#options.maxLineLength)) {
        if (!this.#onLine(line)) break;
      }
    } catch (error) {
      this.#violation(String(error));
    }
  }

  /** Handles one line; false once the host was killed for it. */
  #onLine(line: string): boolean {
    const lease = this.#lease;
    if (line.startsWith(this.#key)) {
      const message = parseHostMessage(line.slice(this.#key.length));
      if (message === undefined) return this.#violation(describeLine(line, this.#key));
      switch (message.type) {
        case "ready":
          return this.#onReady(message.workers);
        case "failed":
          if (this.#state !== "leased") return this.#violation(`a worker failed: ${message.error}`);
          this.#broken = true;
          return true;
        case "worker_error":
          lease?.emit({ type: "worker_error", error: message.error });
          this.kill(`its worker failed: ${message.error}`);
          return false;
      }
    }
    if (lease !== undefined && !lease.ended && line.startsWith(lease.key)) {
      const message = parseProgramMessage(line.slice(lease.key.length));
      if (message === undefined) return this.#violation(describeLine(line, lease.key));
      lease.program(message);
      return true;
    }
    return this.#violation(describeLine(line, this.#key));
  }

  #onReady(workers: number[]): boolean {
    const lease = this.#lease;
    if (this.#state === "starting" || this.#state === "recycling") {
      this.#check(workers);
      return true;
    }
    if (this.#state === "leased" && lease?.ended && !lease.readySeen) {
      lease.readySeen = workers; // `finish` comes next and checks.
      return true;
    }
    return this.#violation("the host said ready while its program ran");
  }

  /** Checks the process until it is idle (then it is ready) or must not run a program. */
  #check(workers: number[]): void {
    const deadline = performance.now() + SETTLE_MS;
    const attempt = () => {
      if (this.#state !== "starting" && this.#state !== "recycling") return;
      const result = this.#options.reuse
        ? checkHost(this.pid, workers)
        : { type: "idle" as const, rssBytes: 0 };
      if (result.type === "busy" && performance.now() < deadline) {
        setTimeout(attempt, 2);
        return;
      }
      if (result.type !== "idle") return void this.kill(`not idle: ${result.why}`);
      if (this.#state === "recycling" && result.rssBytes > this.#options.maxRssBytes) {
        return void this.kill(`it uses ${Math.round(result.rssBytes / 2 ** 20)} MiB`);
      }
      clearTimeout(this.#timer);
      this.#rssBytes = result.rssBytes;
      const wasStarting = this.#state === "starting";
      this.#state = "ready";
      const lease = this.#lease;
      this.#lease = undefined;
      lease?.release();
      if (wasStarting) this.#ready.resolve(this);
      else this.onIdle?.();
    };
    attempt();
  }

  #violation(detail: string): false {
    this.#lease?.emit({ type: "violation", detail });
    this.kill(`broke the protocol: ${detail}`);
    return false;
  }
}

/** One execution's hold on a host. */
class Lease implements Sandbox {
  readonly key: string;
  readonly runs: number;
  readonly released: Promise<void>;
  /** The program's end message arrived. */
  ended = false;
  /** The program ended with a read of the pipe open. */
  reading = false;
  /** The host said ready (with these workers) after the program's end, before `finish`. */
  readySeen: number[] | undefined;
  #host: SandboxHost;
  #listener: ((event: SandboxEvent) => void) | undefined;
  #backlog: SandboxEvent[] = [];
  #finished = false;
  #release = Promise.withResolvers<void>();

  constructor(host: SandboxHost, key: string, runs: number) {
    this.#host = host;
    this.key = key;
    this.runs = runs;
    this.released = this.#release.promise;
  }

  get kind(): SandboxKind {
    return this.#host.kind;
  }

  get pid(): number {
    return this.#host.pid;
  }

  listen(listener: (event: SandboxEvent) => void): void {
    this.#listener = listener;
    for (const event of this.#backlog.splice(0)) listener(event);
  }

  send(message: ServerMessage): void {
    if (this.#finished || this.ended) return;
    this.#host.send(message.type === "run" ? { ...message, key: this.key } : message);
  }

  finish(reusable: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#listener = undefined;
    this.#backlog = [];
    this.#host.finished(this, reusable);
  }

  /** A line of the program. */
  program(message: ProgramMessage): void {
    if (isEndMessage(message)) {
      this.ended = true;
      this.reading = message.reading === true;
    }
    this.emit(message);
  }

  emit(event: SandboxEvent): void {
    if (this.#finished) return;
    if (this.#listener) this.#listener(event);
    else this.#backlog.push(event);
  }

  /** The host process is gone. */
  gone(exit: SandboxExit): void {
    this.emit(exit);
    this.#release.resolve();
  }

  /** The host is idle again. */
  release(): void {
    this.#release.resolve();
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
 * Where a sandbox process is told Deno's cache is: a path under `/dev/null`, which no one can
 * create (not even root), so Deno runs with its caches in memory. A program may make Deno
 * transpile modules and fill its code cache; nothing of that reaches the disk.
 */
export const SANDBOX_DENO_DIR = "/dev/null/progtc-sandbox-has-no-cache";

/**
 * The whole environment of a sandbox process: nothing of the server's (its API key above all),
 * and no cache directory Deno could write to (no `HOME` either: Deno would look for one there).
 */
export function sandboxEnv(): Record<string, string> {
  return { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_DIR: SANDBOX_DENO_DIR };
}

/**
 * The runtime as a host starts it: by its name on a `PATH` of its own directory, so that the
 * process's `argv[0]` (Node's `process.argv0`) does not tell a program where it is installed.
 */
export function sandboxRuntime(denoPath: string): { cmd: string; env: Record<string, string> } {
  const slash = denoPath.lastIndexOf("/");
  const name = denoPath.slice(slash + 1);
  if (slash <= 0 || name !== "deno") return { cmd: denoPath, env: {} };
  // Its own directory only: nothing else of that name is ever run in its place.
  return { cmd: name, env: { PATH: denoPath.slice(0, slash) } };
}

function commandLine(options: HostOptions): { cmd: string; args: string[] } {
  const deno = [
    ...LOCKED_RUN_FLAGS,
    `--location=http://sandbox-${crypto.randomUUID()}.progtc.invalid/`,
    `--v8-flags=${[`--max-old-space-size=${options.heapMb}`, ...options.v8Flags].join(",")}`,
    ...options.entry.flags,
    options.entry.module,
  ];
  const runtime = sandboxRuntime(options.denoPath).cmd;
  if (options.prlimitPath === null) return { cmd: runtime, args: deno };
  const data = options.dataMb * 1024 * 1024;
  return { cmd: options.prlimitPath, args: [`--data=${data}:${data}`, "--", runtime, ...deno] };
}

function describeLine(line: string, key: string): string {
  const text = line.startsWith(key) ? line.slice(key.length) : line;
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return `unexpected line from sandbox: ${JSON.stringify(shown)}`;
}

/**
 * The last `max` characters a process wrote to stderr since the last `clear()`: for the server's
 * log when the process dies (the runtime's own fatal message), never to decide anything.
 */
class StderrTail {
  /** Resolves with the tail once the stream ended. */
  readonly done: Promise<string>;
  #tail = "";

  constructor(stream: ReadableStream<Uint8Array>, max: number) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of chunks(stream, 4096)) {
          this.#tail += decoder.decode(chunk, { stream: true });
          if (this.#tail.length > max * 2) this.#tail = this.#tail.slice(-max);
        }
      } catch {
        // The process is gone.
      }
      return this.#tail.slice(-max);
    })();
  }

  clear(): void {
    this.#tail = "";
  }
}
