/**
 * The worker threads of one sandbox host, as the server tracks them through `/proc`
 * (`host_check.ts`): every thread seen so far (its relay's first), and each worker's own, found
 * when the host says it made the worker and checked gone when it says the worker was terminated.
 *
 * @module
 */
import { type HostThread, scanThreads, threadAlive, workerThreads } from "./host_check.ts";

/** How long a terminated worker's thread may take to go. */
const SETTLE_MS = 1000;
/** How long a made worker's thread may take to appear in `/proc`. */
const FIND_MS = 1000;
/** Tries of a search (2 ms apart) that skip the threads known not to be workers. */
const SKIP_TRIES = 4;

/** The worker threads of host process `pid`. */
export class HostThreads {
  #pid: number;
  /** Each worker's thread, by the worker's number. */
  #threads = new Map<number, HostThread>();
  /**
   * The host's worker threads taken so far and not verifiably gone (its relay's first), by id:
   * an id is given again to a later thread once its thread is gone.
   */
  #seen = new Set<number>();
  /**
   * Threads of the host that carried no worker's name when last read (its runtime's own, but
   * those that may be a worker not named yet), by id: a search skips them, but for its last
   * tries (an id is given again to a later thread once its thread is gone).
   */
  #others = new Set<number>();
  /** Whether the host is gone: a search or check then stops. */
  #dead: () => boolean;

  constructor(pid: number, dead: () => boolean) {
    this.#pid = pid;
    this.#dead = dead;
  }

  /** Takes the host's first worker thread as its relay's; false if it has none. */
  findRelay(): boolean {
    const relay = workerThreads(this.#pid)[0];
    if (relay === undefined) return false;
    this.#seen.add(relay.tid);
    return true;
  }

  /**
   * Finds worker `number`'s thread (the oldest worker thread not seen before: the host makes
   * them one at a time), polling `/proc`: `found` once it is, `missing` if it takes too long.
   */
  find(number: number, found: () => void, missing: () => void): void {
    const deadline = performance.now() + FIND_MS;
    let tries = 0;
    const find = () => {
      if (this.#dead()) return;
      // Its thread is there at once, nearly always; past a few tries, every thread is read.
      if (++tries === SKIP_TRIES) this.#others.clear();
      const known = tries < SKIP_TRIES ? this.#others : undefined;
      const { workers, others } = scanThreads(
        this.#pid,
        (tid) => this.#seen.has(tid) || known?.has(tid) === true,
      );
      // A thread just made carries its maker's name until it names itself (Rust names a
      // thread from inside it): the host's realm, `deno`, makes the workers.
      for (const { tid, comm } of others) {
        if (tid === this.#pid || comm !== "deno") this.#others.add(tid);
      }
      const thread = workers[0];
      if (thread) {
        this.#seen.add(thread.tid);
        this.#threads.set(number, thread);
        return found();
      }
      if (performance.now() > deadline) return missing();
      setTimeout(find, 2);
    };
    find();
  }

  /**
   * Worker `number` was terminated: `settled(true)` once its thread is gone (at once if it has
   * none), `settled(false)` if it is still there after a while.
   */
  settle(number: number, settled: (gone: boolean) => void): void {
    const thread = this.#threads.get(number);
    this.#threads.delete(number);
    const deadline = performance.now() + SETTLE_MS;
    const check = () => {
      if (this.#dead()) return;
      if (thread && threadAlive(this.#pid, thread)) {
        if (performance.now() < deadline) return void setTimeout(check, 5);
        return settled(false);
      }
      if (thread) this.#seen.delete(thread.tid);
      settled(true);
    };
    check();
  }
}
