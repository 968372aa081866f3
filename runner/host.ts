/**
 * One sandbox host process, seen from the server: spawned locked down, it runs up to
 * `maxPrograms` programs at once, each in a slot (a fresh worker), and takes new ones until it
 * is retired.
 *
 * Invariants:
 * - The process has no `--allow-*` flag but the one to open the server's socket, which its
 *   realm gives up once connected (Python: and read the Pyodide files), a cleared environment,
 *   `/` as its working directory, a unique `--location`, no remote or npm fetching, a V8 heap cap
 *   per isolate and, where `prlimit` exists, an RLIMIT_DATA cap.
 * - Its stdin carries its key and is closed; its stdout is not read (`/dev/null`): programs can
 *   reach both without any permission. Everything else goes over its socket, `<slot> <JSON>`
 *   lines, which only its realm holds.
 * - A line of slot 0 must be a host message, a line of a running slot a message of that
 *   program: a malformed program line ends that program only (a violation), and what a program
 *   sends after its end is dropped; a malformed host line, or a line for a slot that is not
 *   running, is the host's violation: every program on it hears so, and it is killed.
 * - A worker gets a program only after the server found its thread (`worker`, then `ack`). A
 *   slot is free again once its worker's thread is gone; a thread that stays makes the host take
 *   no new program, and the host is killed once its other programs ended.
 * - `exited` resolves once, after the last line was handled, whatever ended the process; every
 *   program still on it then hears how. Its stderr, which programs can write, decides one
 *   thing only: that a host of one program aborted because the runtime could not allocate.
 *
 * @module
 */
import { newId } from "../protocol.ts";
import type { HostCommand, SandboxKind, ServerMessage } from "../sandbox/messages.ts";
import type { HostCgroup, MemoryCgroups } from "./cgroups.ts";
import { type HostThread, rssBytes, threadAlive, workerThreads } from "./host_check.ts";
import type { HostConnection, HostListener } from "./host_listener.ts";
import { encodeServerMessage, parseHostMessage, parseProgramMessage } from "./host_messages.ts";
import { RunnerError } from "./runner_error.ts";
import type { Sandbox, SandboxExit } from "./sandbox.ts";
import { Slot } from "./slot.ts";
import { commandLine } from "./host_command.ts";
import { StderrTail } from "./stderr_tail.ts";

/** How to start sandbox host processes, and when to retire one. */
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
  /** Variables of this kind of host, added to its cleared environment (allocator settings). */
  env: Record<string, string>;
  /** RLIMIT_DATA in MiB (heaps, ArrayBuffers, wasm memory of the whole process). */
  dataMb: number;
  /** Longest line a program may have written for it, in characters (the host enforces it). */
  maxLineLength: number;
  /** How long a host may take to start and connect, in ms. */
  readyTimeoutMs: number;
  /** Extra `deno run` flags and the entry module. */
  entry: { flags: string[]; module: string };
  /** The socket hosts connect to. */
  listener: HostListener;
  /** Programs a host runs at once. */
  maxPrograms: number;
  /**
   * Whether worker threads can be checked in `/proc`: without, a host runs one program only, and
   * once.
   */
  checks: boolean;
  /** Programs a host starts before it is retired. */
  maxRuns: number;
  /** Age after which a host takes no more programs, in ms. */
  maxAgeMs: number;
  /** Where each host gets a memory cgroup (when the bound is a cgroup). */
  cgroups: MemoryCgroups;
  /** The most one host may use: its cgroup's limit when full. */
  memoryBytes: number;
  /** The memory one program may use: its host stops a worker that reports more. */
  programMemoryBytes: number;
  /** The host's own share of its cgroup (its realm, relay and spares), beside its programs'. */
  ownMemoryBytes: number;
}

/** Where a host is in its life. */
export type HostState = "starting" | "ready" | "draining" | "dead";

const STDERR_TAIL = 8 * 1024;
/**
 * What Rust's allocation error handler writes before it aborts the process (SIGABRT), and the
 * note it adds when backtraces are off (as in a host's environment): measured with Deno 2.9.6.
 */
const ALLOCATION_FAILED = /^memory allocation of \d+ bytes failed$/;
const BACKTRACE_NOTE =
  "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";
/** How long a terminated worker's thread may take to go. */
const SETTLE_MS = 1000;
/** How long a made worker's thread may take to appear in `/proc`. */
const FIND_MS = 1000;

/** A running sandbox host process. */
export class SandboxHost {
  readonly kind: SandboxKind;
  readonly pid: number;
  /** When it connected and took programs from: its age counts from then. */
  #readyAt = Infinity;
  /** Resolves once the process is gone and its last line was handled. */
  readonly exited: Promise<SandboxExit>;
  #options: HostOptions;
  #child: Deno.ChildProcess;
  #connection: HostConnection | undefined;
  #key = newId();
  #state: HostState = "starting";
  #slots = new Map<number, Slot>();
  #nextSlot = 1;
  #runs = 0;
  #threads = new Map<number, HostThread>();
  /** Every worker thread of the host seen so far (its relay's first), by id. */
  #seen = new Set<number>();
  #cgroup: HostCgroup | undefined;
  /** Its cgroup's limit now, in bytes. */
  #limit: number;
  /**
   * What the host held above its own share the last time it had no program (what its
   * programs' threads left in the allocator): its programs' caps come on top of it.
   */
  #retained = 0;
  #ready = Promise.withResolvers<SandboxHost>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #why: string | undefined;
  /** The process ended (its connection is closed, whatever its reader was doing). */
  #exiting = false;
  #stderr: StderrTail;
  /** The bytes of stderr read when the latest program was given its slot. */
  #stderrBeforeLatest = 0;
  /** Called when a slot frees, or the host can take programs again. */
  onFree: (() => void) | undefined;

  private constructor(options: HostOptions) {
    this.#options = options;
    this.kind = options.kind;
    const { cmd, args, env } = commandLine(options);
    this.#limit = Math.min(options.memoryBytes, options.ownMemoryBytes);
    const cgroup = options.cgroups.create(this.#limit);
    this.#cgroup = cgroup;
    const child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "null",
      // Never the server's own: programs can write to fd 2. Its tail is for the server's log
      // (and says when a host of one program could not allocate: `#allocationAborted`).
      stderr: "piped",
      // Nothing of the server's own directory: `Deno.cwd()` needs no permission.
      cwd: "/",
      clearEnv: true,
      env,
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    try {
      // Into its cgroup before it has its key: no program runs outside it.
      cgroup?.attach(child.pid);
    } catch (error) {
      this.kill(`it could not join its memory cgroup: ${error}`);
    }
    // Expected from now on (a binary that cannot start threw above, and is expected by no one).
    const connected = options.listener.expect(this.#key, options.readyTimeoutMs);
    // The key, then nothing: a program can read fd 0 and finds it at its end.
    const stdin = child.stdin.getWriter();
    stdin.write(new TextEncoder().encode(`${this.#key}\n`)).then(() => stdin.close()).catch(
      () => {},
    );
    const stderr = new StderrTail(child.stderr, STDERR_TAIL);
    this.#stderr = stderr;
    const linesDone = connected.then(
      (connection) => this.#serve(connection),
      (error) => this.kill(`it did not start: ${error instanceof Error ? error.message : error}`),
    );
    this.exited = (async (): Promise<SandboxExit> => {
      const status = await child.status;
      this.#exiting = true;
      options.listener.forget(this.#key);
      this.#connection?.close();
      await linesDone;
      await stderr.done;
      // The kernel killed it at its cgroup's limit (SIGKILL, and nothing said), or V8 ran out
      // of heap (it traps), or the runtime could not allocate for its one program.
      const cgroupOom = cgroup?.oomKilled() ?? false;
      cgroup?.remove();
      return {
        type: "exited",
        code: status.code,
        signal: status.signal,
        stderr: stderr.text,
        outOfMemory: cgroupOom || status.signal === "SIGTRAP" || this.#allocationAborted(status),
        programs: this.#slots.size,
      };
    })();
    this.exited.then((exit) => {
      this.#state = "dead";
      clearTimeout(this.#timer);
      for (const slot of this.#slots.values()) slot.gone(exit);
      this.#slots.clear();
      const why = this.#why ??
        (exit.stderr.trim().split("\n").slice(-3).join("\n") || `exit code ${exit.code}`);
      this.#ready.reject(new RunnerError("spawn_failed", `Sandbox did not start: ${why}`));
    });
    this.#ready.promise.catch(() => {});
    this.#arm(options.readyTimeoutMs, "did not start in time");
  }

  /**
   * Spawns a host and resolves once it connected. Rejects (and kills the process) if it exits,
   * breaks the protocol or takes longer than `readyTimeoutMs`.
   */
  static spawn(options: HostOptions): Promise<SandboxHost> {
    try {
      return new SandboxHost(options).#ready.promise;
    } catch (error) {
      // The binary is missing or not executable.
      const why = error instanceof Error ? error.message : String(error);
      return Promise.reject(new RunnerError("spawn_failed", `Sandbox did not start: ${why}`));
    }
  }

  /** Where the host is in its life. */
  get state(): HostState {
    return this.#state;
  }

  /** Programs this host has started. */
  get runs(): number {
    return this.#runs;
  }

  /** Slots taken now (programs running, or whose worker is not yet verifiably gone). */
  get busy(): number {
    return this.#slots.size;
  }

  /** Programs it may still take now. */
  get free(): number {
    return this.#state === "ready" ? this.#options.maxPrograms - this.#slots.size : 0;
  }

  /** Why the host was killed, if it was. */
  get why(): string | undefined {
    return this.#why;
  }

  /** The memory it holds now, in bytes: its cgroup's count, or its resident memory. */
  get usageBytes(): number {
    if (this.#state === "dead") return 0;
    return this.#cgroup?.usage() || rssBytes(this.pid);
  }

  /** Lends a slot to one execution. */
  lease(): Sandbox {
    if (this.free <= 0) throw new Error(`Cannot lease a host that is ${this.#state} and full`);
    this.#runs++;
    this.#stderrBeforeLatest = this.#stderr.written;
    const slot = new Slot(this, this.#nextSlot++, this.#runs - 1);
    this.#slots.set(slot.id, slot);
    this.#fitMemory();
    const o = this.#options;
    const retire = !o.checks
      ? "it runs one program only"
      : this.#runs >= o.maxRuns
      ? "it started its last program"
      : performance.now() - this.#readyAt >= o.maxAgeMs
      ? "it is too old"
      : undefined;
    if (retire !== undefined) this.#drain(retire);
    return slot;
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

  /** Writes one message to a slot. */
  send(slot: number, message: ServerMessage): void {
    this.#connection?.write(`${slot} ${encodeServerMessage(message)}\n`);
  }

  /** Writes one message to the host itself. */
  #command(message: HostCommand): void {
    this.#connection?.write(`0 ${JSON.stringify(message)}\n`);
  }

  /** The slot's execution is over; a program still running is stopped. */
  finished(slot: Slot): void {
    if (!slot.ended || !slot.started) this.send(slot.id, { type: "stop" });
  }

  /** Takes no new programs; is killed once the programs it runs are over. */
  #drain(why: string): void {
    if (this.#state === "dead") return;
    this.#why ??= why;
    this.#state = "draining";
    if (this.#slots.size === 0) this.kill(why);
  }

  #arm(ms: number, why: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.kill(why), ms);
  }

  async #serve(connection: HostConnection): Promise<void> {
    this.#connection = connection;
    // The host's first worker is its relay, made before it connected; the others are programs'.
    if (this.#options.checks) {
      const relay = workerThreads(this.pid)[0];
      if (relay === undefined) return void this.#violation("it has no relay worker");
      this.#seen.add(relay.tid);
    }

    try {
      for await (const line of connection.lines) {
        if (!this.#onLine(line)) break;
      }
    } catch (error) {
      // Most often the process is ending (killed from outside, out of memory): its exit says
      // what happened. Still alive a moment later, it broke the connection itself.
      if (this.#exiting) return;
      const timer = setTimeout(() => {
        if (!this.#exiting) this.#violation(String(error));
      }, BROKEN_CONNECTION_MS);
      this.exited.finally(() => clearTimeout(timer));
    }
  }

  /** Handles one line; false once the host was killed for it. */
  #onLine(line: string): boolean {
    const space = line.indexOf(" ");
    const slotId = /^\d{1,15} /.test(line) ? Number(line.slice(0, space)) : NaN;
    if (Number.isNaN(slotId)) return this.#violation(describe(line));
    const text = line.slice(space + 1);
    if (slotId === 0) {
      const message = parseHostMessage(text);
      if (message === undefined) return this.#violation(describe(text));
      switch (message.type) {
        case "worker":
          this.#onWorker(message.number);
          return true;
        case "ready":
          // Its first worker is warm: programs start at once from now on.
          if (this.#state !== "starting") return this.#violation("it said ready twice");
          clearTimeout(this.#timer);
          this.#readyAt = performance.now();
          this.#state = "ready";
          this.#ready.resolve(this);
          return true;
        case "started": {
          const slot = this.#slots.get(message.slot);
          if (slot === undefined || slot.started) {
            return this.#violation(`program ${message.slot} started again, or never given`);
          }
          slot.startedIn(message.number);
          return true;
        }
        case "gone":
          this.#onGone(message.slot, message.number);
          return true;
        case "worker_error":
          this.#slots.get(message.slot)?.emit({ type: "worker_error", error: message.error });
          return true;
        case "violation":
          this.#slots.get(message.slot)?.emit({ type: "violation", detail: message.detail });
          return true;
        case "out_of_memory": {
          const cap = mib(this.#options.programMemoryBytes);
          this.#slots.get(message.slot)?.emit({
            type: "out_of_memory",
            error: `RangeError: the program exceeded its memory limit of ${cap} MiB ` +
              `(it held ${mib(message.bytes)} MiB) and was stopped`,
          });
          return true;
        }
        case "memory":
          for (const [id, bytes] of message.programs) {
            const slot = this.#slots.get(id);
            if (slot) slot.memoryBytes = bytes;
          }
          return true;
        case "failed":
          this.kill(`a worker failed: ${message.error}`);
          return false;
      }
    }
    const slot = this.#slots.get(slotId);
    if (slot === undefined || !slot.started) {
      return this.#violation(`a line for program ${slotId}, which is not running`);
    }
    // After its end, nothing of a program counts: its worker is being terminated.
    if (slot.ended) return true;
    const message = parseProgramMessage(text);
    if (message === undefined) {
      slot.emit({ type: "violation", detail: describe(text) });
      return true;
    }
    // A call's line counts against the bound of its program's calls not answered yet.
    slot.program(message.type === "tool_call" ? { ...message, chars: text.length } : message);
    return true;
  }

  /** A new worker: its thread is found now, before it can be given a program. */
  #onWorker(number: number): void {
    if (!this.#options.checks) return this.#command({ type: "ack", number });
    const deadline = performance.now() + FIND_MS;
    const find = () => {
      if (this.#state === "dead") return;
      // The oldest worker thread not seen before: the host makes them one at a time.
      const thread = workerThreads(this.pid).find((t) => !this.#seen.has(t.tid));
      if (thread) {
        this.#seen.add(thread.tid);
        this.#threads.set(number, thread);
        return this.#command({ type: "ack", number });
      }
      if (performance.now() > deadline) {
        return void this.#violation(`its worker ${number} has no thread`);
      }
      setTimeout(find, 2);
    };
    find();
  }

  /** A slot's worker was terminated: the slot frees once its thread is gone. */
  #onGone(id: number, number: number): void {
    const slot = this.#slots.get(id);
    if (!slot) return;
    const thread = this.#threads.get(number);
    this.#threads.delete(number);
    const deadline = performance.now() + SETTLE_MS;
    const check = () => {
      if (this.#state === "dead") return;
      if (thread && threadAlive(this.pid, thread)) {
        if (performance.now() < deadline) return void setTimeout(check, 5);
        // It will not go (Deno does not stop a worker in an endless loop): no program may start
        // beside it any more, and the process ends with the last of the others.
        this.#slots.delete(id);
        this.#fitMemory();
        slot.release();
        this.#drain(`the worker of one of its programs did not stop`);
        return;
      }
      this.#slots.delete(id);
      if (this.#slots.size === 0) this.#measureRetained();
      this.#fitMemory();
      slot.release();
      // Left with no program, a host whose bound no longer has room for one more program's
      // cap above what it retains would start the next one with less than its cap. (A host of
      // one program has no room for any; a host of many has room for a lot.)
      const o = this.#options;
      if (
        this.#slots.size === 0 && this.#state === "ready" &&
        o.ownMemoryBytes + this.#retained + o.programMemoryBytes > o.memoryBytes
      ) {
        this.#drain("it holds more memory than its own after its programs");
      }
      if (this.#state === "draining" && this.#slots.size === 0) this.kill(this.#why ?? "drained");
      else this.onFree?.();
    };
    check();
  }

  /**
   * Whether the process aborted because the runtime could not allocate for its program (a
   * Blob's bytes past the data rlimit: Rust's handler says so on stderr, then aborts). Believed
   * only of a host of one program, running one, when that line is the last (but for Rust's note
   * on backtraces) and came after the program was given its slot: a program can write the line
   * itself, but then it only names its own end. With several programs per host a neighbour
   * could write it, and a line from before the program (an earlier program on the host) is not
   * its own.
   */
  #allocationAborted(status: Deno.CommandStatus): boolean {
    if (status.signal !== "SIGABRT") return false;
    if (this.#options.maxPrograms !== 1 || this.#slots.size !== 1) return false;
    const lines = this.#stderr.lastLines(2);
    if (lines.at(-1)?.text === BACKTRACE_NOTE) lines.pop();
    const line = lines.at(-1);
    return line !== undefined && line.start >= this.#stderrBeforeLatest &&
      ALLOCATION_FAILED.test(line.text);
  }

  /** With no program: what the host holds above its own share (0 without a cgroup). */
  #measureRetained(): void {
    const usage = this.#cgroup?.usage();
    this.#retained = usage === undefined ? 0 : Math.max(0, usage - this.#options.ownMemoryBytes);
  }

  /**
   * Sets the host's cgroup to what its programs may hold (each its cap) above its own share and
   * what it retains, at most its bound: the kernel then holds a program that never reports its
   * memory near its own cap when it runs with few others. Lowered no further than what the host
   * holds now.
   */
  #fitMemory(): void {
    const cgroup = this.#cgroup;
    if (!cgroup) return;
    const o = this.#options;
    const target = Math.min(
      o.memoryBytes,
      o.ownMemoryBytes + this.#retained + this.#slots.size * o.programMemoryBytes,
    );
    if (target === this.#limit) return;
    const limit = target > this.#limit
      ? target
      : Math.min(this.#limit, Math.max(target, cgroup.usage() + 64 * 2 ** 20));
    cgroup.setLimit(limit);
    this.#limit = limit;
  }

  /** The host broke the protocol: every program on it hears so, and it is killed. */
  #violation(detail: string): false {
    for (const slot of this.#slots.values()) slot.emit({ type: "violation", detail });
    this.kill(`broke the protocol: ${detail}`);
    return false;
  }
}

/** How long a host whose connection broke may take to be seen exiting, in ms. */
const BROKEN_CONNECTION_MS = 1000;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

function describe(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return `unexpected line from sandbox: ${JSON.stringify(shown)}`;
}
