/**
 * The sessions of a server: opened by a request (`X-Progtc-Session: new`, or `new:<id>` with
 * an id the client chose), named by the next ones, bounded in number (`maxSessions`) and in
 * idle time, and given back first among running things when memory is short (after paused
 * step executions, before any running program).
 *
 * Invariants:
 * - A request that names a session that is not open is refused, never given a fresh realm:
 *   `session_expired`, `session_evicted` or `session_ended` (410) while the server remembers it
 *   (the last {@linkcode ENDED_MEMORY}), `unknown_session` (404) otherwise.
 * - A session is admitted like an execution (a slot, memory, a sandbox); its memory stays
 *   charged until it ends; each later program takes only an execution slot.
 * - Sessions of the step API (`step_session.ts`) count against the same bound, but are never
 *   found by id: an idle one is found by the `live` id of the session state issued at its last
 *   program's end, and taken by one request at most (a fork rebuilds). Their idle realms are
 *   a cache: at the bound, the oldest one ends to make room for a new session.
 *
 * @module
 */
import type { Context } from "@opentelemetry/api";
import { type Language, newId } from "../protocol.ts";
import type { Sandbox } from "../runner/sandbox.ts";
import type { AdmissionGate, Lease } from "./admission_gate.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";
import { Session, type SessionEnd } from "./session.ts";

/** How many ended sessions are remembered, to say why they ended. */
export const ENDED_MEMORY = 4096;

/** What a request asks of sessions: open one (under an id it chose, or not), or use one. */
export type SessionRequest = { open: true; id?: string } | { open: false; id: string };

const ID = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Reads a request's session (`new`, `new:<id>`, `<id>`), or throws `invalid_session`.
 *
 * @example
 * ```ts
 * import { parseSession } from "./sessions.ts";
 * console.assert(parseSession("new").open && parseSession("0123456789abcdef").open === false);
 * ```
 */
export function parseSession(value: string): SessionRequest {
  const text = value.trim();
  if (text === "new") return { open: true };
  if (text.startsWith("new:") && ID.test(text.slice(4))) return { open: true, id: text.slice(4) };
  if (ID.test(text)) return { open: false, id: text };
  throw new HttpProblem(
    400,
    "invalid_session",
    "A session is `new`, `new:<id>` or an id: 16 to 128 letters, digits, `_` or `-`",
  );
}

/** Options of {@linkcode SessionService}. */
export interface SessionServiceOptions {
  admission: AdmissionGate;
  /** Sessions open at once. */
  maxSessions: number;
  /** How long a session may wait for its next program, in ms. */
  idleTimeoutMs: number;
  logger: Logger;
}

/** A session's program, admitted: where it runs and what gives its execution slot back. */
export interface SessionProgram {
  session: Session;
  sandbox: Sandbox;
  /** Gives the program's execution slot back (the session keeps its memory). */
  release(): void;
}

/** A step session's program, admitted: also the memory its sandbox was charged (0: taken idle). */
export interface StepSessionProgram extends SessionProgram {
  memoryBytes: number;
}

/** Opens, finds and ends sessions. */
export class SessionService {
  #options: SessionServiceOptions;
  #sessions = new Map<string, Session>();
  /** Sessions of the step API, running or idle. */
  #steps = new Set<Session>();
  /** Idle sessions of the step API, by the `live` id their last session state names. */
  #live = new Map<string, Session>();
  #ended = new Map<string, SessionEnd>();
  /** Sessions being opened (admitted, not made yet), counted against the limit. */
  #opening = 0;

  constructor(options: SessionServiceOptions) {
    this.#options = options;
    options.admission.onReclaim((bytes) => this.#reclaim(bytes));
  }

  /** Sessions open now (of both APIs). */
  get open(): number {
    return this.#sessions.size + this.#steps.size;
  }

  /**
   * Admits a session's program: a new session (a slot, memory, a sandbox), or the next program
   * of an open one (a slot). Throws a problem for a session it cannot run in.
   */
  async program(
    request: SessionRequest,
    language: Language | undefined,
    fallback: Language,
    parent: Context,
  ): Promise<SessionProgram> {
    if (request.open) return await this.#open(request.id ?? newId(), language ?? fallback, parent);
    const session = this.#find(request.id);
    if (language !== undefined && language !== session.language) {
      throw new HttpProblem(
        400,
        "session_language",
        `Session ${session.id} runs ${session.language}, not ${language}`,
      );
    }
    session.begin();
    try {
      const release = await this.#options.admission.slot();
      return { session, sandbox: session.sandbox, release };
    } catch (error) {
      session.abandon();
      throw error;
    }
  }

  /** The language a session's program runs in (the session's, when it names one), or throws. */
  languageOf(
    request: SessionRequest,
    language: Language | undefined,
    fallback: Language,
  ): Language {
    return request.open ? language ?? fallback : this.#find(request.id).language;
  }

  /**
   * Opens a session for the step API (counted against `maxSessions`, found by no id): a slot,
   * memory and a sandbox, as {@linkcode SessionService.program} opens one.
   */
  async openStep(id: string, language: Language, parent: Context): Promise<StepSessionProgram> {
    const { session, lease } = await this.#admit(id, language, parent);
    this.#steps.add(session);
    return {
      session,
      sandbox: lease.sandbox,
      release: lease.release,
      memoryBytes: lease.memoryBytes,
    };
  }

  /**
   * A step session whose program ended with its realm kept (idle now): keeps it under a new
   * `live` id, for the session state that names it. Returns the id.
   */
  keepStep(session: Session): string {
    const live = newId();
    if (session.idle && this.#steps.has(session)) this.#live.set(live, session);
    return live;
  }

  /**
   * The idle step session kept under `live` for session `id`, taken for its next program (an
   * execution slot), or undefined when this server does not hold it (then it is rebuilt).
   */
  async takeStep(live: string, id: string): Promise<StepSessionProgram | undefined> {
    const session = this.#live.get(live);
    if (!session || session.id !== id || !session.idle) return undefined;
    this.#live.delete(live);
    session.begin();
    try {
      const release = await this.#options.admission.slot();
      return { session, sandbox: session.sandbox, release, memoryBytes: 0 };
    } catch (error) {
      session.abandon();
      if (session.idle) this.#live.set(live, session);
      throw error;
    }
  }

  /** Ends every session (the server stops). */
  close(): void {
    for (const session of [...this.#sessions.values(), ...this.#steps]) {
      session.close({ code: "session_ended", detail: "the server stopped" });
    }
  }

  async #open(id: string, language: Language, parent: Context): Promise<SessionProgram> {
    if (this.#sessions.has(id)) {
      throw new HttpProblem(409, "session_exists", `Session ${id} is open`);
    }
    const { session, lease } = await this.#admit(id, language, parent);
    if (this.#sessions.has(id)) {
      lease[Symbol.dispose]();
      throw new HttpProblem(409, "session_exists", `Session ${id} is open`);
    }
    this.#sessions.set(id, session);
    this.#ended.delete(id);
    return { session, sandbox: lease.sandbox, release: lease.release };
  }

  /** Room for one more session, then its slot, memory and sandbox: the session, not yet kept. */
  async #admit(
    id: string,
    language: Language,
    parent: Context,
  ): Promise<{ session: Session; lease: Lease }> {
    this.#checkRoom();
    this.#opening++;
    let lease;
    try {
      lease = await this.#options.admission.admit(language, parent);
    } finally {
      this.#opening--;
    }
    const session = new Session(id, language, lease.sandbox, {
      idleTimeoutMs: this.#options.idleTimeoutMs,
      closed: (closed, end) => this.#closed(closed, end),
    });
    return { session, lease };
  }

  #checkRoom(): void {
    const full = () =>
      this.#sessions.size + this.#steps.size + this.#opening >= this.#options.maxSessions;
    // A step session's idle realm is a cache (its state rebuilds it): the oldest makes room.
    if (full()) {
      const idle = [...this.#steps].filter((session) => session.idle)
        .sort((a, b) => a.idleSince - b.idleSince)[0];
      idle?.close({ code: "session_evicted", detail: "the server needed room for a new session" });
    }
    if (full()) {
      throw new HttpProblem(
        503,
        "too_many_sessions",
        `The server holds its limit of ${this.#options.maxSessions} sessions`,
        { "retry-after": "5" },
      );
    }
  }

  #find(id: string): Session {
    const session = this.#sessions.get(id);
    if (session) return session;
    const end = this.#ended.get(id);
    if (end) {
      throw new HttpProblem(410, end.code, `Session ${id} has ended: ${end.detail}`);
    }
    throw new HttpProblem(404, "unknown_session", `No session ${id}`);
  }

  #closed(session: Session, end: SessionEnd): void {
    if (this.#steps.delete(session)) {
      for (const [live, kept] of this.#live) if (kept === session) this.#live.delete(live);
    } else {
      this.#sessions.delete(session.id);
      this.#ended.set(session.id, end);
      if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.keys().next().value!);
    }
    this.#options.logger.info(
      `session ${session.id} ${
        end.code.slice("session_".length)
      } after ${session.programs} programs: ${end.detail}`,
      { event: "session_end", session_id: session.id, code: end.code, programs: session.programs },
    );
  }

  /** Memory is short: idle sessions end, those idle longest first. */
  #reclaim(bytes: number): number {
    const idle = [...this.#sessions.values(), ...this.#steps].filter((session) => session.idle)
      .sort((a, b) => a.idleSince - b.idleSince);
    let freed = 0;
    for (const session of idle) {
      if (freed >= bytes) break;
      freed += Math.max(session.sandbox.memoryBytes, 1);
      session.close({ code: "session_evicted", detail: "the server needed its memory" });
    }
    return freed;
  }
}
