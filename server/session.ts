/**
 * One session: a sandbox whose realm is kept from one program to the next, so that what a
 * program defines at its top level is there in the next. It holds its sandbox and the memory
 * admission charged for it from its first program to its end; an execution slot only while a
 * program runs.
 *
 * Invariants:
 * - One program at a time: `begin` refuses a session that runs one (`session_busy`).
 * - It ends exactly once (`close`), with the code its next request is refused with: expired
 *   (idle past its timeout), evicted (memory was short), or ended (its program crossed a limit,
 *   or its sandbox stopped); its sandbox is then finished (the worker stopped, the slot freed).
 * - Between programs nothing of the session runs on the server: a sandbox event then (its host
 *   died, it was evicted, its worker failed) ends it.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import type { Sandbox, SandboxEvent } from "../runner/sandbox.ts";
import { HttpProblem } from "./problem.ts";

/** Why a session ended: the problem code its next request gets. */
export type SessionEndCode = "session_expired" | "session_evicted" | "session_ended";

/** How a session ended. */
export interface SessionEnd {
  code: SessionEndCode;
  /** Why, for people: said in the problem's detail. */
  detail: string;
}

/** What a session tells its owner. */
export interface SessionHooks {
  /** How long it may stay idle, in ms. */
  idleTimeoutMs: number;
  /** It ended. */
  closed(session: Session, end: SessionEnd): void;
}

/** A session's realm, kept between its programs. */
export class Session {
  readonly id: string;
  readonly language: Language;
  readonly sandbox: Sandbox;
  #hooks: SessionHooks;
  #state: "running" | "idle" | "closed" = "running";
  /** Programs it ran or runs: its first starts as it is made. */
  #programs = 1;
  #idleSince = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** A session whose first program starts now in `sandbox`. */
  constructor(id: string, language: Language, sandbox: Sandbox, hooks: SessionHooks) {
    this.id = id;
    this.language = language;
    this.sandbox = sandbox;
    this.#hooks = hooks;
  }

  /** Programs it ran or runs. */
  get programs(): number {
    return this.#programs;
  }

  /** Whether it waits for its next program (not running one, not ended). */
  get idle(): boolean {
    return this.#state === "idle";
  }

  /** When it last became idle (`performance.now()`). */
  get idleSince(): number {
    return this.#idleSince;
  }

  /** Takes the session for its next program, or throws `session_busy`. */
  begin(): void {
    if (this.#state === "closed") {
      throw new HttpProblem(410, "session_ended", `Session ${this.id} has ended`);
    }
    if (this.#state === "running") {
      throw new HttpProblem(
        409,
        "session_busy",
        `Session ${this.id} is running a program: send the next one after its end`,
      );
    }
    this.#state = "running";
    this.#programs++;
    clearTimeout(this.#timer);
  }

  /** The program taken by `begin` did not start (no slot was free): idle again. */
  abandon(): void {
    if (this.#state === "running") this.#wait();
  }

  /**
   * Its program ended: idle again if the realm was kept, otherwise the session ended (`why`:
   * what ended the program).
   */
  after(kept: boolean, why: string): void {
    if (this.#state !== "running") return;
    if (kept) return this.#wait();
    this.close({ code: "session_ended", detail: `its program ended it (${why})` });
  }

  /** Ends the session; its sandbox is finished. Once only. */
  close(end: SessionEnd): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#timer);
    this.sandbox.finish();
    this.#hooks.closed(this, end);
  }

  #wait(): void {
    this.#state = "idle";
    this.#idleSince = performance.now();
    this.sandbox.listen((event) => this.#onIdleEvent(event));
    this.#timer = setTimeout(
      () => this.close({ code: "session_expired", detail: "it was idle too long" }),
      this.#hooks.idleTimeoutMs,
    );
    Deno.unrefTimer(this.#timer);
  }

  #onIdleEvent(event: SandboxEvent): void {
    if (this.#state !== "idle") return;
    switch (event.type) {
      case "out_of_memory":
        return this.close({ code: "session_evicted", detail: event.error.trim() });
      case "exited":
        return this.close({
          code: "session_ended",
          detail: event.outOfMemory
            ? "its sandbox process ran out of memory"
            : "its sandbox process stopped",
        });
      default:
        // Nothing of it runs between programs: anything else is a broken sandbox.
        return this.close({ code: "session_ended", detail: `its sandbox sent ${event.type}` });
    }
  }
}
