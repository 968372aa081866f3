/**
 * The paused step executions a server holds for a warm resume: each under the hold id its state
 * names, at its step, until a step takes it, its TTL passes, a newer one replaces it or memory
 * is short.
 *
 * Invariants:
 * - A held execution is taken by one request at most (a retry or a fork of the same state
 *   replays instead).
 * - At most one execution is held per session and step (a newer one replaces and ends the
 *   older), and at most `maxPaused` in all (the oldest ends first).
 * - Every hold ends by a take, its TTL, the bound, a reclaim or `close()`: an execution that is
 *   dropped is cancelled, so no sandbox outlives it.
 *
 * @module
 */
import type { StepState } from "./state_token.ts";
import type { StepRun } from "./step_run.ts";

/** How long and how many paused executions are held. */
export interface StepHoldsOptions {
  /** `--warm-resume-ttl`; 0: none is held. */
  warmResumeTtlMs: number;
  /** `--max-paused`; 0: none is held. */
  maxPaused: number;
}

interface Held {
  run: StepRun;
  step: number;
  timer: ReturnType<typeof setTimeout>;
}

/** Paused step executions, by hold id, oldest first. */
export class StepHolds {
  #options: StepHoldsOptions;
  #held = new Map<string, Held>();

  constructor(options: StepHoldsOptions) {
    this.#options = options;
  }

  /** Paused executions held now. */
  get size(): number {
    return this.#held.size;
  }

  /** The held execution `state` names, when it may continue the request's `program`. */
  find(state: StepState, program: string): StepRun | undefined {
    const held = this.#held.get(state.hold);
    if (!held || held.step !== state.step || held.run.ended) return undefined;
    // A token minted with another session's hold id (it names both) does not reach it.
    if (held.run.session !== state.session) return undefined;
    return held.run.program === program ? held.run : undefined;
  }

  /** Takes the execution held under `hold` out (a step continues it). */
  take(hold: string): void {
    const held = this.#held.get(hold);
    if (!held) return;
    clearTimeout(held.timer);
    this.#held.delete(hold);
  }

  /** Pauses `run` and holds it under `hold` at `step`, or ends it if warm resume is off. */
  hold(run: StepRun, hold: string, step: number): void {
    run.pause();
    const { warmResumeTtlMs, maxPaused } = this.#options;
    if (warmResumeTtlMs <= 0 || maxPaused <= 0) {
      run.cancel("the step is paused and warm resume is off");
      return;
    }
    // One execution per session and step: a retry or fork that paused again replaces it.
    for (const [id, held] of this.#held) {
      if (held.run.session === run.session && held.step === step) {
        this.#evict(id, "a newer execution of the same step replaced it");
      }
    }
    while (this.#held.size >= maxPaused) {
      const [oldest] = this.#held.keys();
      this.#evict(oldest!, "the server holds too many paused executions");
    }
    const timer = setTimeout(
      () => this.#evict(hold, "it was not resumed in time"),
      warmResumeTtlMs,
    );
    this.#held.set(hold, { run, step, timer });
  }

  /**
   * Frees memory for a new execution: drops paused executions, oldest first, until they hold
   * at least `bytes` (a replay recovers any of them). Returns the bytes their sandboxes will
   * release.
   */
  reclaim(bytes: number): number {
    let freed = 0;
    for (const [hold, held] of this.#held) {
      if (freed >= bytes) break;
      freed += held.run.memoryBytes;
      this.#evict(hold, "the server needed its memory for a new execution");
    }
    return freed;
  }

  /** Ends the hold of every paused execution and returns them (the caller cancels them). */
  release(): StepRun[] {
    const runs = [...this.#held.values()].map((held) => held.run);
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
    return runs;
  }

  #evict(hold: string, why: string): void {
    const held = this.#held.get(hold);
    if (!held) return;
    clearTimeout(held.timer);
    this.#held.delete(hold);
    held.run.cancel(`paused execution dropped: ${why}`);
  }
}
