/**
 * The hosts of one sandbox kind: ready hosts wait for programs, each execution leases one, and a
 * host that ended its program cleanly comes back after its checks.
 *
 * Invariants:
 * - A host is leased only when ready (checked idle); a lease goes to the longest waiter first.
 * - The pool keeps `size` hosts ready or about to be (starting, recycling), and more while the
 *   demand it saw in the last `idleTimeoutMs` was higher; ready hosts above that are retired
 *   after `idleTimeoutMs` unused. Spawns happen off the request path; only a caller that finds no
 *   host ready waits, for the first host that becomes ready (recycled or new).
 * - At most `maxHosts` hosts exist at once; spawns on demand are bounded (as many at once as
 *   there are cores, at least two) and failed spawns back off exponentially (up to 5 s), so a
 *   broken runtime does not become a busy loop.
 * - A host that dies or is retired is replaced when the pool needs it.
 *
 * @module
 */
import type { HostState } from "./host.ts";
import type { Sandbox, SandboxExit } from "./sandbox.ts";
import type { SandboxKind } from "./sandbox_protocol.ts";

/** What the pool needs of a host (`PoolHost`; a fake in unit tests). */
export interface PoolHost {
  readonly kind: SandboxKind;
  readonly pid: number;
  readonly state: HostState;
  readonly runs: number;
  /** Why the host was killed, if it was. */
  readonly why: string | undefined;
  readonly exited: Promise<SandboxExit>;
  /** Called when the host is idle again after a program. */
  onIdle: (() => void) | undefined;
  /** Lends the (ready) host to one execution. */
  lease(): Sandbox;
  kill(why: string): void;
}

/** Options of {@linkcode HostPool}. */
export interface HostPoolOptions {
  /** Hosts kept ready. 0: every program waits for a host (reused ones come back ready). */
  size: number;
  /** Hosts of this kind at once, whatever their state. */
  maxHosts: number;
  /** Do not start hosts before the first `acquire` (Python: no snapshot until it is used). */
  lazy: boolean;
  /** Ready hosts beyond the pool's target are retired after this long unused, in ms. */
  idleTimeoutMs: number;
  /** Starts one host and resolves when it is ready. */
  spawn: () => Promise<PoolHost>;
  /** Reports a failed spawn. */
  onSpawnError?: (error: unknown) => void;
  /** Reports a host that was killed (why) or died, after it started. */
  onHostExit?: (host: PoolHost, why: string) => void;
}

/** What a pool holds now. */
export interface PoolStats {
  ready: number;
  leased: number;
  recycling: number;
  starting: number;
  waiting: number;
}

interface Waiter {
  resolve(sandbox: Sandbox): void;
  reject(error: unknown): void;
}

/** Slots of the demand window (which lasts `idleTimeoutMs`). */
const DEMAND_SLOTS = 6;

/** The hosts of one sandbox kind. */
export class HostPool {
  #options: HostPoolOptions;
  /** Ready hosts, most recently used last. */
  #ready: PoolHost[] = [];
  #idleSince = new Map<PoolHost, number>();
  #hosts = new Set<PoolHost>();
  #starting = 0;
  #waiters: Waiter[] = [];
  #failures = 0;
  #lastError: unknown;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #active: boolean;
  #closed = false;
  /** The highest demand (hosts in use plus waiters) per slot of the last `idleTimeoutMs`. */
  #demand: { slot: number; peak: number }[] = [];
  #slotMs: number;

  constructor(options: HostPoolOptions) {
    this.#options = options;
    this.#active = !options.lazy;
    this.#slotMs = Math.max(50, options.idleTimeoutMs / DEMAND_SLOTS);
  }

  /** What the pool holds now. */
  get stats(): PoolStats {
    let leased = 0;
    let recycling = 0;
    for (const host of this.#hosts) {
      if (host.state === "leased") leased++;
      else if (host.state === "recycling") recycling++;
    }
    return {
      ready: this.#ready.length,
      leased,
      recycling,
      starting: this.#starting,
      waiting: this.#waiters.length,
    };
  }

  /** Whether the pool started (it is eager, or was used). */
  get active(): boolean {
    return this.#active;
  }

  /** Process ids of every live host (for tests and benchmarks). */
  get pids(): number[] {
    return [...this.#hosts].map((host) => host.pid);
  }

  /** Starts filling the pool (a lazy pool only once it was used). */
  fill(): void {
    if (this.#closed || !this.#active) return;
    this.#sweeper ??= setInterval(
      () => this.#sweep(),
      Math.max(100, Math.min(10_000, this.#options.idleTimeoutMs / 2)),
    );
    Deno.unrefTimer(this.#sweeper);
    this.#grow();
  }

  /** Starts a lazy pool (an eager one has started already). */
  start(): void {
    this.#active = true;
    this.fill();
  }

  /** Waits until `size` hosts are ready, a spawn fails, or `timeoutMs` passes. */
  async warm(timeoutMs = 30_000): Promise<void> {
    this.#active = true;
    this.fill();
    const deadline = Date.now() + timeoutMs;
    while (
      this.#ready.length < this.#options.size && Date.now() < deadline && !this.#closed &&
      this.#failures === 0
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Leases a ready host, or waits for the first one that becomes ready; rejects after
   * `timeoutMs` without one, or when hosts cannot start.
   */
  acquire(timeoutMs = 30_000): Promise<Sandbox> {
    if (this.#closed) return Promise.reject(new Error("Sandbox pool is closed"));
    if (!this.#active) {
      this.#active = true;
      this.fill();
    }
    const host = this.#takeReady();
    if (host) {
      this.#noteDemand(1);
      // Spawning blocks this thread for about a millisecond: let the caller start first.
      setTimeout(() => this.#grow(), 0);
      return Promise.resolve(host.lease());
    }
    // Backing off after failed spawns with no host alive: nothing will serve a waiter soon.
    if (this.#retryTimer !== undefined && this.#hosts.size === 0 && this.#starting === 0) {
      return Promise.reject(this.#lastError);
    }
    return new Promise<Sandbox>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(new Error(`No sandbox became ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: (sandbox) => {
          clearTimeout(timer);
          resolve(sandbox);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
      this.#noteDemand();
      this.#grow();
    });
  }

  /** Kills every host, fails the waiters and stops refilling. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#sweeper);
    const hosts = [...this.#hosts];
    for (const host of hosts) host.kill("the server is shutting down");
    this.#ready = [];
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new Error("Sandbox pool is closed"));
    }
    return Promise.all(hosts.map((host) => host.exited)).then(() => {});
  }

  #takeReady(): PoolHost | undefined {
    let host: PoolHost | undefined;
    while ((host = this.#ready.pop()) !== undefined && host.state !== "ready");
    if (host) this.#idleSince.delete(host);
    return host;
  }

  /** A host is ready: the longest waiter takes it, or it waits in the pool. */
  #offer(host: PoolHost): void {
    if (this.#closed) return host.kill("the server is shutting down");
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(host.lease());
      return;
    }
    this.#ready.push(host);
    this.#idleSince.set(host, performance.now());
  }

  /** Remembers the demand now: hosts in use, waiters, and `extra` callers about to lease. */
  #noteDemand(extra = 0): void {
    const s = this.stats;
    const demand = s.leased + s.recycling + s.waiting + extra;
    const slot = Math.floor(performance.now() / this.#slotMs);
    const last = this.#demand.at(-1);
    if (last?.slot === slot) last.peak = Math.max(last.peak, demand);
    else this.#demand.push({ slot, peak: demand });
    while (this.#demand[0]!.slot <= slot - DEMAND_SLOTS) this.#demand.shift();
  }

  /** Hosts the pool keeps: those in use now plus `size`, or the recent peak if higher. */
  #target(): number {
    const s = this.stats;
    const peak = Math.max(0, ...this.#demand.map((d) => d.peak));
    return Math.min(
      this.#options.maxHosts,
      Math.max(s.leased + s.recycling + this.#options.size, peak),
    );
  }

  #grow(): void {
    if (this.#closed || !this.#active || this.#retryTimer !== undefined) return;
    const s = this.stats;
    const coming = s.starting + s.recycling;
    // Waiters first: each one that no coming host will serve gets a spawn of its own.
    let wanted = Math.max(0, s.waiting - coming);
    // Then the pool: `size` ready (or coming) hosts on top of those in use.
    wanted = Math.max(wanted, this.#options.size - (s.ready + coming - s.waiting));
    const room = this.#options.maxHosts - this.#hosts.size - s.starting;
    const parallel = Math.max(2, navigator.hardwareConcurrency) - s.starting;
    for (let i = 0; i < Math.min(wanted, room, parallel); i++) this.#spawn();
  }

  #spawn(): void {
    this.#starting++;
    this.#options.spawn().then(
      (host) => {
        this.#starting--;
        this.#failures = 0;
        if (this.#closed) return host.kill("the server is shutting down");
        this.#hosts.add(host);
        host.onIdle = () => this.#offer(host);
        host.exited.then((exit) => {
          this.#forget(host);
          const how = exit.signal ?? `exit code ${exit.code}`;
          this.#options.onHostExit?.(host, host.why ?? `it stopped (${how})`);
        });
        this.#offer(host);
        this.#grow();
      },
      (error) => {
        this.#starting--;
        this.#failures++;
        this.#lastError = error;
        this.#options.onSpawnError?.(error);
        if (this.#closed || this.#retryTimer !== undefined) return;
        // Nobody will serve the waiters until the runtime starts again.
        if (this.#starting === 0 && this.#hosts.size === 0) {
          for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
        }
        const delay = Math.min(5_000, 50 * 2 ** this.#failures);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#grow();
        }, delay);
      },
    );
  }

  #forget(host: PoolHost): void {
    this.#hosts.delete(host);
    this.#idleSince.delete(host);
    const index = this.#ready.indexOf(host);
    if (index !== -1) this.#ready.splice(index, 1);
    this.#grow();
  }

  /** Retires ready hosts the recent demand does not need, oldest idle first. */
  #sweep(): void {
    this.#noteDemand();
    const now = performance.now();
    let extra = this.#hosts.size - this.#target();
    for (const host of [...this.#ready]) {
      if (extra <= 0) break;
      if (now - (this.#idleSince.get(host) ?? now) < this.#options.idleTimeoutMs) continue;
      host.kill("it was not needed");
      extra--;
    }
  }

  /** The last spawn error, if the last spawn failed (for error messages). */
  get lastError(): unknown {
    return this.#failures > 0 ? this.#lastError : undefined;
  }
}
