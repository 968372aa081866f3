/**
 * A session as the client sees it: programs that run one after another in one realm on the
 * server, so that what one defines at its top level (values, functions, classes) the next can
 * use. Made by {@linkcode ProgtcClient.session}.
 *
 * @module
 */
import type { ExecuteCodeResult, Language } from "../protocol.ts";
import type { ExecuteCodeOptions } from "./execute_stream.ts";
import { ProgtcProtocolError } from "./errors.ts";

/** Runs one program with extra headers; says what the response set for affinity. */
export type SessionRunner = (
  options: ExecuteCodeOptions & { session: string },
  headers: Record<string, string>,
) => Promise<{ result: ExecuteCodeResult; affinity: Record<string, string> }>;

/** Options of {@linkcode ProgtcClient.session}. */
export interface SessionOptions {
  /**
   * The session's language: every program of it is in this language.
   * @default {the server's default language}
   */
  language?: Language;
  /**
   * The session's id, chosen by the client (16 to 128 letters, digits, `_` or `-`); by default
   * the server makes one.
   */
  id?: string;
}

/** The options of a session's program: those of `executeCode`, without the language. */
export type SessionProgramOptions = Omit<ExecuteCodeOptions, "language">;

/** Programs that share one realm on the server, run one at a time, in order. */
export class ProgtcSession {
  #run: SessionRunner;
  #language: Language | undefined;
  #id: string | undefined;
  #opened = false;
  #ended = false;
  #affinity: Record<string, string> = {};
  #last: Promise<unknown> = Promise.resolve();

  /** @ignore Made by `ProgtcClient.session`. */
  constructor(run: SessionRunner, options: SessionOptions = {}) {
    this.#run = run;
    this.#language = options.language;
    this.#id = options.id;
  }

  /** The session's id: the one given, or the server's once its first program ran. */
  get id(): string | undefined {
    return this.#id;
  }

  /**
   * Whether the session has ended: a program crossed a limit, or its sandbox stopped (the
   * result says so with `session_ended`). Its next program would be refused.
   */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Runs the session's next program, after the ones before it have ended. Throws
   * {@linkcode ProgtcHttpError} when the server refuses it (`session_expired`,
   * `session_evicted`, `session_ended`, …).
   *
   * @example
   * ```ts ignore
   * import { ProgtcClient } from "./client.ts";
   * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
   * const session = client.session();
   * await session.executeCode({ code: "const rows = [1, 2, 3];", tools: {} });
   * const result = await session.executeCode({ code: "console.log(rows.length);", tools: {} });
   * console.log(result.stdout); // 3
   * ```
   */
  executeCode(options: SessionProgramOptions): Promise<ExecuteCodeResult> {
    const next = this.#last.then(() => this.#program(options));
    this.#last = next.catch(() => {});
    return next;
  }

  async #program(options: SessionProgramOptions): Promise<ExecuteCodeResult> {
    const session = this.#opened ? this.#id! : this.#id ? `new:${this.#id}` : "new";
    const { result, affinity } = await this.#run(
      { ...options, ...(this.#language ? { language: this.#language } : {}), session },
      this.#affinity,
    );
    if (!this.#opened) {
      if (result.session_id === undefined) {
        throw new ProgtcProtocolError(
          "The server ran the program outside a session: it keeps none",
        );
      }
      this.#opened = true;
      this.#id = result.session_id;
      // The instance that holds the session is the one that answered: stay on it.
      this.#affinity = affinity;
    }
    if (result.session_ended) this.#ended = true;
    return result;
  }
}
