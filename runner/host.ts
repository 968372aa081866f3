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
 * - A host with programs takes no new one while they leave its memory bound no room for one
 *   more program's share (the kernel would stop it, with the new one, as they grow).
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
import { spawnHost } from "./host_command.ts";
import { endReason, hostExit, STDERR_TAIL } from "./host_exit.ts";
import { type LineTarget, serveLines } from "./host_lines.ts";
import type { HostConnection } from "./host_listener.ts";
import { HostMemory } from "./host_memory.ts";
import { encodeServerMessage } from "./host_messages.ts";
import { type HostOptions, type HostState, retireReason } from "./host_options.ts";
import { HostThreads } from "./host_threads.ts";
import { RunnerError } from "./runner_error.ts";
import type { Sandbox, SandboxExit } from "./sandbox.ts";
import { Slot } from "./slot.ts";
import { StderrTail } from "./stderr_tail.ts";

export type { HostOptions, HostState } from "./host_options.ts";

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
  #threads: HostThreads;
  #memory: HostMemory;
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
    const memory = new HostMemory(options);
    this.#memory = memory;
    const child = spawnHost(options);
    this.#child = child;
    this.pid = child.pid;
    this.#threads = new HostThreads(child.pid, () => this.#state === "dead");
    try {
      // Into its cgroup before it has its key: no program runs outside it.
      memory.attach(child.pid);
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
      return hostExit(status, stderr, {
        cgroupOom: memory.end(),
        maxPrograms: options.maxPrograms,
        programs: [...this.#slots.values()].filter((slot) => slot.running).length,
        stderrBeforeLatest: this.#stderrBeforeLatest,
      });
    })();
    this.exited.then((exit) => this.#ended(exit));
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

  /** Programs it may still take now: none once it is killed (its exit not yet seen) or drains. */
  get free(): number {
    if (this.#state !== "ready" || this.#why !== undefined) return 0;
    return this.#options.maxPrograms - this.#slots.size;
  }

  /**
   * Whether its memory bound has room now for one more program's share, and its address space
   * for one more isolate (a host with no program has room, or drains: `HostMemory.full`). Reads
   * the kernel's counts.
   */
  hasRoom(): boolean {
    return this.#slots.size === 0 ||
      (this.#memory.roomForProgram(this.#options.maxPrograms) &&
        this.#memory.addressRoom(this.pid));
  }

  /** Why the host was killed, if it was. */
  get why(): string | undefined {
    return this.#why;
  }

  /** The memory it holds now, in bytes: its cgroup's count, or its resident memory. */
  get usageBytes(): number {
    if (this.#state === "dead") return 0;
    return this.#memory.usage(this.pid);
  }

  /** Lends a slot to one execution. */
  lease(): Sandbox {
    if (this.free <= 0) {
      const state = this.#why === undefined ? this.#state : "ending";
      throw new Error(`Cannot lease a host that is ${state} or full`);
    }
    this.#runs++;
    this.#stderrBeforeLatest = this.#stderr.written;
    const slot = new Slot(this, this.#nextSlot++, this.#runs - 1);
    this.#slots.set(slot.id, slot);
    this.#memory.fit(this.#slots.size);
    const retire = retireReason(this.#options, this.#runs, performance.now() - this.#readyAt);
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

  /** The process is gone: every program still on it hears how, and a host not ready fails. */
  #ended(exit: SandboxExit): void {
    this.#state = "dead";
    clearTimeout(this.#timer);
    for (const slot of this.#slots.values()) slot.gone(exit);
    this.#slots.clear();
    const why = this.#why ?? endReason(exit);
    this.#ready.reject(new RunnerError("spawn_failed", `Sandbox did not start: ${why}`));
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
    if (this.#options.checks && !this.#threads.findRelay()) {
      return void this.#violation("it has no relay worker");
    }
    await serveLines(connection, this.#lineTarget(), {
      exiting: () => this.#exiting,
      exited: this.exited,
    });
  }

  /** What the host's lines act on. */
  #lineTarget(): LineTarget {
    return {
      slots: this.#slots,
      programMemoryBytes: this.#options.programMemoryBytes,
      worker: (number) => this.#onWorker(number),
      ready: () => this.#onReady(),
      gone: (slot, number) => this.#onGone(slot, number),
      kill: (why) => this.kill(why),
      violation: (detail) => this.#violation(detail),
    };
  }

  /** Its first worker is warm: programs start at once from now on. */
  #onReady(): boolean {
    if (this.#state !== "starting") return this.#violation("it said ready twice");
    clearTimeout(this.#timer);
    this.#readyAt = performance.now();
    this.#state = "ready";
    this.#ready.resolve(this);
    return true;
  }

  /** A new worker: its thread is found now, before it can be given a program. */
  #onWorker(number: number): void {
    if (!this.#options.checks) return this.#command({ type: "ack", number });
    this.#threads.find(
      number,
      () => this.#command({ type: "ack", number }),
      () => void this.#violation(`its worker ${number} has no thread`),
    );
  }

  /** A slot's worker was terminated: the slot frees once its thread is gone. */
  #onGone(id: number, number: number): void {
    const slot = this.#slots.get(id);
    if (!slot) return;
    this.#threads.settle(number, (gone) => {
      this.#slots.delete(id);
      if (gone && this.#slots.size === 0) this.#memory.measureRetained();
      this.#memory.fit(this.#slots.size);
      slot.release();
      // It will not go (Deno does not stop a worker in an endless loop): no program may start
      // beside it any more, and the process ends with the last of the others.
      if (!gone) return this.#drain(`the worker of one of its programs did not stop`);
      // Left with no program, a host whose bound no longer has room for one more program's
      // cap above what it retains would start the next one with less than its cap.
      if (this.#slots.size === 0 && this.#state === "ready" && this.#memory.full) {
        this.#drain("it holds more memory than its own after its programs");
      }
      if (this.#state === "draining" && this.#slots.size === 0) this.kill(this.#why ?? "drained");
      else this.onFree?.();
    });
  }

  /** The host broke the protocol: every program on it hears so, and it is killed. */
  #violation(detail: string): false {
    for (const slot of this.#slots.values()) slot.emit({ type: "violation", detail });
    this.kill(`broke the protocol: ${detail}`);
    return false;
  }
}
