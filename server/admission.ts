/**
 * Admission: whether an execution may run now, and what it holds while it does. One object
 * hands out leases of three things: an execution slot (`maxConcurrent` at most), a share of
 * the memory budget, and a sandbox (a slot of a host).
 *
 * Invariants:
 * - Memory is counted by use, not by caps: a program is charged what a program of its kind is
 *   expected to hold until its host is measured, and every few hundred milliseconds what the
 *   hosts hold beyond those charges counts too (measured from the kernel: their cgroups, or
 *   their resident memory).
 * - When the budget is short, a request waits (in arrival order, up to `queueTimeoutMs`) while
 *   reclaim hooks free what can be given back (paused step executions: they replay), then gets
 *   `503 over_capacity` with `Retry-After`.
 * - When the hosts are measured over the budget, paused step executions are given back first,
 *   then the program that holds the most (as its worker reports) is ended with a
 *   `runtime_error` that says so, one per measurement.
 * - A lease's execution slot is given back by `release()` (a paused step execution holds its
 *   sandbox without a slot); its memory, when its sandbox is released (the worker is gone).
 *   Disposing a lease gives back whatever it still holds.
 *
 * @module
 */
import type { Context } from "@opentelemetry/api";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Language } from "../protocol.ts";
import { type Readiness, type Runner, sandboxKind } from "../runner/runner.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import type { SandboxKind } from "../sandbox/messages.ts";
import type { AdmissionGate, Lease, Reclaim } from "./admission_gate.ts";
import { Capacity } from "./capacity.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import { sandboxUnavailable } from "./sandbox_unavailable.ts";
import { endSpan, instruments, startSpan } from "./telemetry.ts";

/** What admission needs of the runner (`Runner`; a fake in unit tests). */
export type AdmissionRunner = Pick<Runner, "supports" | "acquire" | "readiness" | "memoryInUse">;

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  runner: AdmissionRunner;
  /** Executions running at once. */
  maxConcurrent: number;
  /** Memory all sandboxes may hold together, in bytes. */
  budgetBytes: number;
  /** What a program of each kind is charged until its host is measured, in bytes. */
  chargeBytes: Record<SandboxKind, number>;
  /** How long a request may wait for a slot and memory, in ms. */
  queueTimeoutMs: number;
  logger: Logger;
  /** How often the hosts' memory is measured, in ms. */
  sampleMs?: number;
}

/** Who may run now. */
export class Admission implements AdmissionGate {
  #options: AdmissionOptions;
  #slots: Capacity;
  #memory: Capacity;
  #reclaims: Reclaim[] = [];
  #closing = false;
  #charged = 0;
  #measured = 0;
  /** Every admitted execution's sandbox and charge, until the sandbox is released. */
  #held = new Map<Sandbox, number>();
  /** Memory told to go (reclaimed, evicted), until it shows in a measurement or a second passed. */
  #freeing: { bytes: number; until: number }[] = [];
  /** Sandboxes told to end for memory (each once). */
  #evicted = new WeakSet<Sandbox>();
  #sampler: ReturnType<typeof setInterval>;

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.#slots = new Capacity(options.maxConcurrent);
    this.#memory = new Capacity(options.budgetBytes);
    this.#sampler = setInterval(() => this.#sample(), options.sampleMs ?? 250);
    Deno.unrefTimer(this.#sampler);
  }

  /** Executions that hold a slot now. */
  get running(): number {
    return this.#slots.used;
  }

  /**
   * The memory budget, what is counted against it now (`held`: the running programs' charges,
   * and what the hosts were measured to hold beyond them), those charges, and the last
   * measurement.
   */
  get memory(): { budget: number; held: number; charged: number; measured: number } {
    return {
      budget: this.#memory.max,
      held: this.#memory.used,
      charged: this.#charged,
      measured: this.#measured,
    };
  }

  /** Something that can give memory back when it is short (paused step executions). */
  onReclaim(reclaim: Reclaim): void {
    this.#reclaims.push(reclaim);
  }

  /** Refuses new executions from now on (`503 shutting_down`). */
  drain(): void {
    this.#closing = true;
  }

  /** Stops measuring. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#sampler);
  }

  /** Whether an execution of `language` could be admitted now, and why not. */
  readiness(language: Language): Readiness {
    if (this.#closing) {
      return { ready: false, code: "shutting_down", reason: "The server is shutting down" };
    }
    const charge = this.#chargeOf(language);
    if (this.#memory.used + charge > this.#memory.max) {
      const reason = `Not enough memory for another ${language} program: ${
        mib(this.#memory.used)
      } of ${mib(this.#memory.max)} MiB are in use`;
      return { ready: false, code: "over_capacity", reason };
    }
    if (this.#slots.used >= this.#slots.max) {
      return { ready: false, code: "over_capacity", reason: "Every execution slot is taken" };
    }
    return this.#options.runner.readiness(language);
  }

  /** Only an execution slot (a paused step execution resuming on its own sandbox), or throws. */
  async slot(): Promise<() => void> {
    if (this.#closing) throw new HttpProblem(503, "shutting_down", "The server is shutting down");
    if (!await this.#slots.acquire(this.#options.queueTimeoutMs)) {
      throw new HttpProblem(503, "over_capacity", "Too many executions are running", {
        "retry-after": "1",
      });
    }
    let released = false;
    return () => {
      if (!released) this.#slots.release();
      released = true;
    };
  }

  /** Admits an execution of `language`: a slot, memory, a sandbox; or throws a problem. */
  async admit(language: Language, parent: Context = ROOT_CONTEXT): Promise<Lease> {
    const runner = this.#options.runner;
    if (!runner.supports(language)) {
      throw new HttpProblem(400, "unsupported_language", `This server does not run ${language}`);
    }
    const span = startSpan("progtc.sandbox.acquire", parent, { "progtc.language": language });
    const waited = performance.now();
    try {
      const lease = await this.#admit(language);
      const ms = performance.now() - waited;
      instruments.queueWait.record(ms, { language, outcome: "ok" });
      endSpan(span, "ok", { "progtc.wait_ms": ms, "progtc.sandbox_pid": lease.sandbox.pid });
      return lease;
    } catch (error) {
      const outcome = error instanceof HttpProblem ? error.code : "internal";
      instruments.queueWait.record(performance.now() - waited, { language, outcome });
      endSpan(span, outcome);
      throw error;
    }
  }

  async #admit(language: Language): Promise<Lease> {
    const started = Date.now();
    const release = await this.slot();
    const charge = this.#chargeOf(language);
    const waitMs = this.#options.queueTimeoutMs - (Date.now() - started);
    if (!await this.#memory.acquire(waitMs, charge, (bytes) => this.#reclaim(bytes))) {
      release();
      throw new HttpProblem(
        503,
        "over_capacity",
        `Not enough memory for another ${language} program: ${mib(this.#memory.used)} of ${
          mib(this.#memory.max)
        } MiB are in use`,
        { "retry-after": "1" },
      );
    }
    this.#charged += charge;
    let charged = true;
    const uncharge = () => {
      if (!charged) return;
      charged = false;
      this.#charged -= charge;
      this.#memory.release(charge);
    };
    let sandbox: Sandbox;
    try {
      sandbox = await this.#options.runner.acquire(language);
    } catch (error) {
      release();
      uncharge();
      throw sandboxUnavailable(error, language, this.#options.logger);
    }
    this.#held.set(sandbox, charge);
    sandbox.released.then(() => {
      this.#held.delete(sandbox);
      uncharge();
    });
    return {
      sandbox,
      release,
      memoryBytes: charge,
      [Symbol.dispose]: () => {
        release();
        sandbox.finish();
      },
    };
  }

  #chargeOf(language: Language): number {
    return this.#options.chargeBytes[sandboxKind(language)];
  }

  #reclaim(bytes: number): number {
    let freed = 0;
    for (const reclaim of this.#reclaims) {
      if (freed >= bytes) break;
      freed += reclaim(bytes - freed);
    }
    return freed;
  }

  /**
   * What the hosts hold beyond their programs' charges counts against the budget too; over the
   * budget, memory is taken back.
   */
  #sample(): void {
    const measured = this.#options.runner.memoryInUse();
    this.#measured = measured;
    this.#memory.setExternal(measured - this.#charged);
    if (measured > this.#memory.max) this.#relieve(measured);
  }

  /**
   * The sandboxes hold more than the budget: paused step executions give theirs back first (they
   * replay); then the programs that hold the most are ended, until what they hold covers the
   * excess (what they free shows in the next measurement).
   */
  #relieve(measured: number): void {
    // What was told to go at the last measurements may not show in this one yet: a worker
    // takes a moment to stop. Ending more for the same excess would end programs for nothing.
    const now = performance.now();
    this.#freeing = this.#freeing.filter((freeing) => freeing.until > now);
    const coming = this.#freeing.reduce((sum, freeing) => sum + freeing.bytes, 0);
    const excess = measured - this.#memory.max - coming;
    if (excess <= 0) return;
    let freed = this.#reclaim(excess);
    const candidates = [...this.#held].filter(([sandbox, charge]) =>
      // A program that holds less than it is charged frees nothing worth ending it for.
      !this.#evicted.has(sandbox) && sandbox.memoryBytes >= charge
    ).map(([sandbox]) => sandbox).sort((a, b) => b.memoryBytes - a.memoryBytes);
    for (const sandbox of candidates) {
      if (freed >= excess) break;
      freed += sandbox.memoryBytes;
      this.#evict(sandbox, measured);
    }
    if (freed > 0) this.#freeing.push({ bytes: freed, until: now + FREEING_MS });
  }

  #evict(sandbox: Sandbox, measured: number): void {
    this.#evicted.add(sandbox);
    const held = mib(sandbox.memoryBytes);
    this.#options.logger.warn(
      `out of memory: the sandboxes hold ${mib(measured)} MiB of ${mib(this.#memory.max)}; ` +
        `ending a program that holds ${held} MiB (sandbox ${sandbox.pid})`,
      { event: "memory_eviction", held_mib: held },
    );
    sandbox.evict(
      `Error: out of memory: the server's sandboxes held ${mib(measured)} MiB of their ` +
        `${mib(this.#memory.max)} MiB, and this program was among those that held the most ` +
        `(${held} MiB)`,
    );
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** How long memory told to go is expected before it shows in a measurement, in ms. */
const FREEING_MS = 1000;
