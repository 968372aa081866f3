/**
 * A warm pool of single-use sandboxes of one kind.
 *
 * Invariants:
 * - A sandbox leaves the pool exactly once, through {@linkcode SandboxPool.acquire}, and is
 *   never returned: the caller kills it when its execution ends.
 * - The pool refills off the request path: `acquire` takes a ready sandbox if there is one
 *   and starts replacements in the background; only an empty pool makes a caller wait for
 *   a spawn.
 * - At most `size` spawns run in the background at once, and at most max(2, cores) on demand;
 *   failed spawns back off exponentially (up to 5 s) so that a broken runtime does not turn
 *   into a busy loop.
 * - An idle sandbox that dies is dropped and replaced.
 *
 * @module
 */
import type { Sandbox } from "./sandbox.ts";

/** Options of {@linkcode SandboxPool}. */
export interface SandboxPoolOptions {
  /** Ready sandboxes kept waiting. 0 disables pre-warming: every acquire spawns. */
  size: number;
  /** Starts one sandbox and resolves when it is ready. */
  spawn: () => Promise<Sandbox>;
  /** Reports a failed background spawn. */
  onSpawnError?: (error: unknown) => void;
}

/** A warm pool of single-use sandboxes. */
export class SandboxPool {
  #options: SandboxPoolOptions;
  #idle: Sandbox[] = [];
  #spawning = 0;
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** On-demand spawns booting now, and the callers waiting for their turn. */
  #booting = 0;
  #turns: (() => void)[] = [];

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
  }

  /** Sandboxes ready to run. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Starts filling the pool. */
  fill(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    while (this.#idle.length + this.#spawning < this.#options.size) this.#spawnIdle();
  }

  /**
   * Waits until the pool holds `size` ready sandboxes, a spawn fails, or `timeoutMs` passes.
   */
  async warm(timeoutMs = 30_000): Promise<void> {
    this.fill();
    const deadline = Date.now() + timeoutMs;
    while (
      this.#idle.length < this.#options.size && Date.now() < deadline && !this.#closed &&
      this.#failures === 0
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Takes a ready sandbox, or spawns one if none is ready. The caller owns it. Spawns on demand
   * are bounded (as many at once as there are cores, at least two); callers beyond that wait in
   * order, and take a sandbox the background refill made ready meanwhile if there is one.
   */
  async acquire(): Promise<Sandbox> {
    if (this.#closed) throw new Error("Sandbox pool is closed");
    const ready = this.#takeIdle();
    if (ready) {
      // Spawning blocks this thread for about a millisecond: let the caller start its
      // execution first.
      setTimeout(() => this.fill(), 0);
      return ready;
    }
    this.fill();
    if (this.#booting >= Math.max(2, navigator.hardwareConcurrency)) {
      await new Promise<void>((resolve) => this.#turns.push(resolve));
      const refilled = this.#takeIdle();
      if (refilled) {
        this.#turns.shift()?.();
        return refilled;
      }
    }
    this.#booting++;
    try {
      return await this.#options.spawn();
    } finally {
      this.#booting--;
      this.#turns.shift()?.();
    }
  }

  #takeIdle(): Sandbox | undefined {
    let sandbox: Sandbox | undefined;
    while ((sandbox = this.#idle.shift()) !== undefined && !sandbox.alive);
    return sandbox;
  }

  /** Kills the idle sandboxes and stops refilling. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const sandbox of this.#idle.splice(0)) sandbox.kill();
  }

  #spawnIdle(): void {
    this.#spawning++;
    this.#options.spawn().then(
      (sandbox) => {
        this.#spawning--;
        this.#failures = 0;
        if (this.#closed) return sandbox.kill();
        this.#idle.push(sandbox);
        sandbox.exited.then(() => {
          const index = this.#idle.indexOf(sandbox);
          if (index === -1) return;
          this.#idle.splice(index, 1);
          this.fill();
        });
      },
      (error) => {
        this.#spawning--;
        this.#failures++;
        this.#options.onSpawnError?.(error);
        if (this.#closed || this.#retryTimer !== undefined) return;
        const delay = Math.min(5_000, 50 * 2 ** this.#failures);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.fill();
        }, delay);
      },
    );
  }
}
