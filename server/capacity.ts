/**
 * A bound on concurrent executions with a bounded wait: a request waits up to `waitMs` for a
 * slot, then is refused (the handler answers 503 with Retry-After).
 *
 * @module
 */

/** Counting semaphore with a time-bounded FIFO queue. */
export class Capacity {
  #max: number;
  #used = 0;
  #waiting: Array<() => void> = [];

  constructor(max: number) {
    this.#max = max;
  }

  /** Slots in use. */
  get used(): number {
    return this.#used;
  }

  /** Takes a slot, waiting at most `waitMs`. Resolves false when none freed up in time. */
  acquire(waitMs: number): Promise<boolean> {
    if (this.#used < this.#max) {
      this.#used++;
      return Promise.resolve(true);
    }
    if (waitMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(grant);
        if (index !== -1) this.#waiting.splice(index, 1);
        resolve(false);
      }, waitMs);
      this.#waiting.push(grant);
    });
  }

  /** Frees a slot, handing it to the longest waiter if there is one. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#used--;
  }
}
