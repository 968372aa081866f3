/**
 * The hosts of one sandbox kind: each runs up to a number of programs at once, one per slot;
 * every execution takes a free slot of some host.
 *
 * Invariants:
 * - A slot is given only by a ready host with one free (and, with programs, room under its
 *   memory bound for one more), the one running the fewest programs
 *   (a host makes its workers on one thread), and a waiter is served in arrival order when a
 *   slot frees or a host starts.
 * - The pool keeps `size` hosts, and spawns another, off the request path, as soon as the free
 *   slots of its ready and starting hosts fall below what waits plus one: a program waits for a
 *   host to start only in a burst. Hosts beyond `size` with no program are retired after
 *   `idleTimeoutMs` unused.
 * - At most `maxHosts` hosts exist at once; spawns are bounded (as many at once as there are
 *   cores, at least two) and failed spawns back off exponentially (up to 5 s), so a broken
 *   runtime does not become a busy loop.
 * - A host that dies or is retired is replaced when the pool needs it.
 *
 * @module
 */
import type { HostPoolOptions, PoolHost, PoolStats } from "./pool_host.ts";
import type { Sandbox } from "./sandbox.ts";
import { RunnerError } from "./runner_error.ts";

interface Waiter {
  resolve(sandbox: Sandbox): void;
  reject(error: unknown): void;
}

/** The hosts of one sandbox kind. */
export class HostPool {
  #options: HostPoolOptions;
  #hosts = new Set<PoolHost>();
  /** When each host last had no program (hosts with programs are not in it). */
  #idleSince = new Map<PoolHost, number>();
  #starting = 0;
  #waiters: Waiter[] = [];
  #failures = 0;
  #lastError: unknown;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #active: boolean;
  #closed = false;

  constructor(options: HostPoolOptions) {
    this.#options = options;
    this.#active = !options.lazy;
  }

  /** What the pool holds now. */
  get stats(): PoolStats {
    const s: PoolStats = {
      ready: 0,
      draining: 0,
      starting: this.#starting,
      programs: 0,
      free: 0,
      waiting: this.#waiters.length,
    };
    for (const host of this.#hosts) {
      if (host.state === "ready") s.ready++;
      else if (host.state === "draining") s.draining++;
      s.programs += host.busy;
      s.free += host.free;
    }
    return s;
  }

  /** Whether the pool started (it is eager, or was used). */
  get active(): boolean {
    return this.#active;
  }

  /** The memory every host holds now, in bytes. */
  get usageBytes(): number {
    let bytes = 0;
    for (const host of this.#hosts) bytes += host.usageBytes;
    return bytes;
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
      this.stats.ready < this.#options.size && Date.now() < deadline && !this.#closed &&
      this.#failures === 0
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Lends a free slot, or waits for the first one that frees or starts; rejects after
   * `timeoutMs` without one, or when hosts cannot start.
   */
  acquire(timeoutMs = 30_000): Promise<Sandbox> {
    if (this.#closed) {
      return Promise.reject(new RunnerError("pool_closed", "Sandbox pool is closed"));
    }
    if (!this.#active) {
      this.#active = true;
      this.fill();
    }
    const host = this.#pick();
    if (host) {
      const sandbox = this.#lend(host);
      // Spawning blocks this thread for about a millisecond: let the caller start first.
      setTimeout(() => this.#grow(), 0);
      return Promise.resolve(sandbox);
    }
    // Backing off after failed spawns with no host alive: nothing will serve a waiter soon.
    if (this.#retryTimer !== undefined && this.#hosts.size === 0 && this.#starting === 0) {
      return Promise.reject(this.#lastError);
    }
    return new Promise<Sandbox>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(
          new RunnerError("acquire_timeout", `No sandbox became ready within ${timeoutMs} ms`),
        );
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
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new RunnerError("pool_closed", "Sandbox pool is closed"));
    }
    return Promise.all(hosts.map((host) => host.exited)).then(() => {});
  }

  /**
   * The ready host with a free slot and room for the program that runs the fewest programs. A
   * host makes its workers one at a time, on one thread (each holds it for milliseconds):
   * spreading programs over hosts spreads that work over cores. Room is asked of the hosts in
   * that order, so usually of one.
   */
  #pick(): PoolHost | undefined {
    const open = [...this.#hosts].filter((host) => host.free > 0);
    return open.sort((a, b) => a.busy - b.busy).find((host) => host.hasRoom());
  }

  /** Free slots of the hosts that have room for a program now. */
  #freeWithRoom(): number {
    let free = 0;
    for (const host of this.#hosts) if (host.free > 0 && host.hasRoom()) free += host.free;
    return free;
  }

  #lend(host: PoolHost): Sandbox {
    this.#idleSince.delete(host);
    return host.lease();
  }

  /** A slot freed or a host started: waiters take slots, in order. */
  #offer(): void {
    if (this.#closed) return;
    let host: PoolHost | undefined;
    while (this.#waiters.length > 0 && (host = this.#pick()) !== undefined) {
      this.#waiters.shift()!.resolve(this.#lend(host));
    }
    for (const idle of this.#hosts) {
      if (idle.busy === 0 && !this.#idleSince.has(idle)) {
        this.#idleSince.set(idle, performance.now());
      }
    }
    this.#grow();
  }

  #grow(): void {
    if (this.#closed || !this.#active || this.#retryTimer !== undefined) return;
    const s = this.stats;
    // Waiters are served only where there is room: a host whose programs fill its bound counts
    // no free slot for them.
    const free = s.waiting > 0 ? this.#freeWithRoom() : s.free;
    const coming = this.#starting * this.#options.programsPerHost;
    // Hosts to keep, then room for the waiters and, once there are hosts, one more program (a
    // pool of size 0 starts hosts for waiters only).
    const headroom = this.#options.size > 0 || this.#hosts.size > 0 ? 1 : 0;
    const short = Math.max(
      this.#options.size - (s.ready + this.#starting),
      Math.ceil((s.waiting + headroom - free - coming) / this.#options.programsPerHost),
    );
    const room = this.#options.maxHosts - this.#hosts.size - this.#starting;
    const parallel = Math.max(2, navigator.hardwareConcurrency) - this.#starting;
    for (let i = 0; i < Math.min(short, room, parallel); i++) this.#spawn();
  }

  #spawn(): void {
    this.#starting++;
    this.#options.spawn().then(
      (host) => {
        this.#starting--;
        this.#failures = 0;
        if (this.#closed) return host.kill("the server is shutting down");
        this.#hosts.add(host);
        host.onFree = () => this.#offer();
        host.exited.then((exit) => {
          this.#forget(host);
          const how = exit.signal ?? `exit code ${exit.code}`;
          this.#options.onHostExit?.(host, host.why ?? `it stopped (${how})`);
        });
        this.#offer();
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
    this.#grow();
  }

  /** Retires hosts beyond `size` that have had no program for `idleTimeoutMs`. */
  #sweep(): void {
    const now = performance.now();
    let extra = this.#hosts.size - this.#options.size;
    for (const host of this.#hosts) {
      if (extra <= 0) break;
      const since = this.#idleSince.get(host);
      if (host.busy > 0 || since === undefined || now - since < this.#options.idleTimeoutMs) {
        continue;
      }
      host.kill("it was not needed");
      extra--;
    }
  }

  /** The last spawn error, if the last spawn failed (for error messages). */
  get lastError(): unknown {
    return this.#failures > 0 ? this.#lastError : undefined;
  }
}
