/**
 * The bytes the server holds for its clients, all requests together: frames an event stream has
 * not sent yet, output kept for terminal frames, the tool calls of step answers being built.
 * Each per-request limit bounds one holder; this bounds their sum, so that many clients at their
 * limits cannot take the server's memory.
 *
 * @module
 */

/** A count of bytes with a ceiling; taking fails, never waits. */
export class ByteBudget {
  #max: number;
  #used = 0;

  /** A budget of `max` bytes. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Bytes in all. */
  get max(): number {
    return this.#max;
  }

  /**
   * Takes `bytes` if they fit, and says whether they did.
   *
   * @example
   * ```ts
   * import { ByteBudget } from "./byte_budget.ts";
   * const budget = new ByteBudget(10);
   * console.assert(budget.take(8) && !budget.take(3));
   * budget.give(8);
   * console.assert(budget.used === 0 && budget.take(10));
   * ```
   */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.#max) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Takes `bytes` even past the ceiling: for what must go out (a terminal frame), whose bytes
   * were held under another name until then.
   */
  force(bytes: number): void {
    this.#used += bytes;
  }

  /** Gives back `bytes` taken before. */
  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/** A budget with no ceiling, for holders used alone (unit tests, tools). */
export const UNLIMITED: ByteBudget = new ByteBudget(Infinity);
