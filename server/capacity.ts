/**
 * A bounded resource with a bounded wait: execution slots (units of 1) or the memory budget
 * (units of bytes). A request waits up to `waitMs` for its share, in arrival order, then is
 * refused (the handler answers 503 with Retry-After).
 *
 * @module
 */

interface Waiter {
  amount: number;
  grant(): void;
}

/** A counting semaphore with weights and a time-bounded FIFO queue. */
export class Capacity {
  #max: number;
  #used = 0;
  #waiting: Waiter[] = [];

  /** A resource of `max` units. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Units in use. */
  get used(): number {
    return this.#used;
  }

  /** Units in all. */
  get max(): number {
    return this.#max;
  }

  /**
   * Takes `amount` units, waiting at most `waitMs` behind earlier requests. Resolves false when
   * they did not free up in time, or when `amount` exceeds the whole resource. While it is first
   * in line and does not fit, `reclaim(units)` is asked to start freeing units held by something
   * that can give them back (a paused execution); it returns how many will be released.
   */
  acquire(
    waitMs: number,
    amount = 1,
    reclaim?: (units: number) => number,
  ): Promise<boolean> {
    if (amount > this.#max) return Promise.resolve(false);
    if (this.#waiting.length === 0 && this.#used + amount <= this.#max) {
      this.#used += amount;
      return Promise.resolve(true);
    }
    if (waitMs <= 0 && !reclaim) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        amount,
        grant: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        resolve(false);
        this.#grant();
      }, Math.max(waitMs, 0));
      this.#waiting.push(waiter);
      if (reclaim) this.#reclaims.set(waiter, reclaim);
      this.#reclaim();
    });
  }

  /**
   * Sets the units held outside any `acquire` (memory measured beyond what was reserved): they
   * count against the resource like units taken; waiters that now fit take theirs.
   */
  setExternal(amount: number): void {
    const delta = Math.max(0, amount) - this.#external;
    this.#external += delta;
    this.#used += delta;
    if (delta < 0) this.#grant();
  }

  #external = 0;

  /** Gives back `amount` units; waiters that now fit take theirs, in order. */
  release(amount = 1): void {
    this.#used -= amount;
    this.#freeing = Math.max(0, this.#freeing - amount);
    this.#grant();
  }

  #reclaims = new Map<Waiter, (units: number) => number>();
  /** Units that reclaims started to free and that were not released yet. */
  #freeing = 0;

  #grant(): void {
    while (this.#waiting.length > 0 && this.#used + this.#waiting[0]!.amount <= this.#max) {
      const waiter = this.#waiting.shift()!;
      this.#reclaims.delete(waiter);
      this.#used += waiter.amount;
      waiter.grant();
    }
    this.#reclaim();
  }

  /** Asks the first waiter's reclaim to free what it still lacks (freed units come back later). */
  #reclaim(): void {
    const first = this.#waiting[0];
    const reclaim = first && this.#reclaims.get(first);
    if (!reclaim) return;
    let lacking = this.#used - this.#freeing + first.amount - this.#max;
    while (lacking > 0) {
      const freed = reclaim(lacking);
      if (freed <= 0) return;
      this.#freeing += freed;
      lacking -= freed;
    }
  }
}
