/**
 * The server's TCP connections: accepted here, served by Deno's HTTP server one connection at a
 * time (`serveHttpOnConnection`, what `Deno.serve` runs per listener), so that the server can
 * bound what `Deno.serve` does not (Deno 2.9 has no header or idle timeout and no connection
 * cap, and its accept loop ends the process when file descriptors run out).
 *
 * Invariants:
 * - A connection is `new` until its first request's headers arrive, `active` while a request
 *   on it is unanswered or its response (an event stream) is being sent, `idle` between
 *   requests. A `new` connection is closed after `headerTimeoutMs`, an `idle` one after
 *   `idleTimeoutMs`; an `active` one is never closed here.
 * - At most `maxConnections` are open. At the cap, a new connection closes the oldest `new`
 *   one, else the oldest `idle` one; when all are active, the new one is answered `503` and
 *   closed. A flood of connections that send nothing therefore never keeps out a client that
 *   sends a request, and never touches an execution in progress.
 * - Running out of file descriptors (`EMFILE`, `ENFILE`) closes an idle or new connection and
 *   accepts again at once, or backs off when there is none to close; the accept loop never ends
 *   but by `shutdown()`.
 * - An answer that leaves the request body unread (`408`, `413`: it says `connection: close`)
 *   ends its connection once written, so a client that trickles a body cannot hold it.
 * - Connections are only ever cut, never shut down gracefully (a graceful stop waits for a
 *   trickled body forever). Deno cuts a connection's server when its abort signal fires, and
 *   that throws, where nothing can catch it, once the server has closed by itself (a window
 *   before `finished` says so): so the signal only hands us Deno's listener, which we call
 *   ourselves inside a `try`.
 *
 * @module
 */
import { abort, closeQuietly, Connection } from "./connection.ts";
import { type Handler, serveHttpOnConnection } from "./serve_http_on_connection.ts";
import { UnreadStreamError } from "./sse.ts";

/** Options of {@linkcode Connections}. */
export interface ConnectionOptions {
  hostname: string;
  port: number;
  /** Connections open at once. */
  maxConnections: number;
  /** How long a new connection may take to send its first request's headers, in ms. */
  headerTimeoutMs: number;
  /** How long a connection may stay open between requests, in ms. */
  idleTimeoutMs: number;
  log(line: string): void;
}

/** Counts since the server started. */
export interface ConnectionStats {
  /** Open now. */
  open: number;
  /** Accepted in all. */
  accepted: number;
  /** Closed for the header or idle timeout. */
  timedOut: number;
  /** Closed to make room for a newer connection at the cap. */
  evicted: number;
  /** Answered 503 at the cap with every connection active. */
  refused: number;
  /** Accepts that failed because file descriptors ran out. */
  exhausted: number;
}

/** What a connection gets at the cap when every open connection is active. */
const REFUSED = (() => {
  const body = JSON.stringify({
    type: "about:blank",
    title: "Service Unavailable",
    status: 503,
    code: "over_capacity",
    detail: "Too many connections are active",
  });
  return new TextEncoder().encode(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n" +
      `retry-after: 1\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
})();

/** The listening socket and every connection on it. */
export class Connections {
  readonly addr: Deno.NetAddr;
  #options: ConnectionOptions;
  #listener: Deno.TcpListener;
  #handler: Handler;
  /** By state, oldest first (a Set keeps insertion order). */
  #new = new Set<Connection>();
  #idle = new Set<Connection>();
  #active = new Set<Connection>();
  #stats: ConnectionStats = {
    open: 0,
    accepted: 0,
    timedOut: 0,
    evicted: 0,
    refused: 0,
    exhausted: 0,
  };
  #closed = false;
  readonly #loop: Promise<void>;

  /** Listens and starts accepting; `handler` answers every request. */
  constructor(options: ConnectionOptions, handler: Handler) {
    if (!serveHttpOnConnection) {
      throw new Error("This Deno cannot serve accepted connections (no serveHttpOnConnection)");
    }
    this.#options = options;
    this.#handler = handler;
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.addr = this.#listener.addr;
    this.#loop = this.#accept();
  }

  /** Counts since the server started. */
  get stats(): ConnectionStats {
    return { ...this.#stats, open: this.#new.size + this.#idle.size + this.#active.size };
  }

  /**
   * Stops accepting, closes idle and new connections, and closes active ones as their
   * responses end (the application ends its executions first), cutting any left after 2 s.
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    await this.#loop;
    for (const conn of [...this.#new, ...this.#idle]) this.#close(conn);
    // Active connections close as their responses end (the application ended its executions,
    // so their streams end now); what still trickles after a moment is cut.
    const deadline = Date.now() + 2000;
    while (this.#active.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const conn of [...this.#active]) this.#close(conn);
  }

  async #accept(): Promise<void> {
    let backoff = 10;
    while (!this.#closed) {
      let tcp: Deno.Conn;
      try {
        tcp = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        if (isExhausted(error)) {
          this.#stats.exhausted++;
          if (backoff === 10) this.#options.log(`connections: out of file descriptors (${error})`);
          // A descriptor freed: take the next connection now (a client's request may wait
          // behind a flood of idle ones in the backlog); none to free: back off.
          if (this.#evictOne()) continue;
          await new Promise((resolve) => setTimeout(resolve, backoff));
          backoff = Math.min(backoff * 2, 1000);
        }
        // Other accept errors (a connection reset before it was accepted) are the peer's.
        continue;
      }
      backoff = 10;
      this.#stats.accepted++;
      if (this.#open() >= this.#options.maxConnections && !this.#evictOne()) {
        this.#stats.refused++;
        tcp.write(REFUSED).catch(() => {}).finally(() => closeQuietly(tcp));
        continue;
      }
      this.#serve(tcp);
    }
  }

  #open(): number {
    return this.#new.size + this.#idle.size + this.#active.size;
  }

  /** Closes the oldest new connection, else the oldest idle one; false when all are active. */
  #evictOne(): boolean {
    const [victim] = this.#new.size > 0 ? this.#new : this.#idle;
    if (!victim) return false;
    this.#stats.evicted++;
    this.#close(victim);
    return true;
  }

  #serve(tcp: Deno.Conn): void {
    const conn = new Connection();
    this.#new.add(conn);
    this.#arm(conn, this.#options.headerTimeoutMs);
    const handler: Handler = (request, info) => {
      if (conn.closed) return this.#handler(request, info);
      this.#move(conn, "active");
      conn.inFlight++;
      clearTimeout(conn.timer);
      let closeAfter = false;
      const done = () => {
        if (--conn.inFlight > 0 || conn.closed) return;
        if (this.#closed) return this.#close(conn);
        // An answer that left the body unread (408, 413) says `connection: close`: the rest of
        // the body is not worth reading, so the connection ends here.
        if (closeAfter) {
          // After a moment, so that the (small) answer is flushed first; a graceful stop would
          // wait for the rest of the body.
          this.#forget(conn);
          setTimeout(() => abort(conn), 100);
          return;
        }
        this.#move(conn, "idle");
        this.#arm(conn, this.#options.idleTimeoutMs);
      };
      info.completed.then(done, done);
      const response = this.#handler(request, info);
      // Read aside, so that the response reaches Deno without an extra turn.
      response.then((r) => closeAfter = r.headers.get("connection")?.toLowerCase() === "close");
      return response;
    };
    try {
      conn.server = serveHttpOnConnection!(tcp, conn.signal, handler, (error) => {
        // A response body that ended its connection on purpose says so in a line of its own.
        this.#options.log(
          error instanceof UnreadStreamError
            ? `connections: ${error.message}`
            : `internal error: ${error instanceof Error ? error.stack : error}`,
        );
        return new Response(null, { status: 500 });
      }, () => {});
    } catch (error) {
      this.#options.log(`connections: cannot serve a connection: ${error}`);
      this.#new.delete(conn);
      closeQuietly(tcp);
      return;
    }
    conn.server.finished.catch(() => {}).finally(() => {
      conn.finished = true;
      this.#forget(conn);
    });
  }

  #arm(conn: Connection, ms: number): void {
    clearTimeout(conn.timer);
    conn.timer = setTimeout(() => {
      if (conn.state === "active") return;
      this.#stats.timedOut++;
      this.#close(conn);
    }, ms);
  }

  #move(conn: Connection, state: Connection["state"]): void {
    this.#setOf(conn.state).delete(conn);
    conn.state = state;
    this.#setOf(state).add(conn);
  }

  #setOf(state: Connection["state"]): Set<Connection> {
    return state === "new" ? this.#new : state === "idle" ? this.#idle : this.#active;
  }

  /** Closes a connection now (its server stops; Deno closes the socket). */
  #close(conn: Connection): void {
    this.#forget(conn);
    abort(conn);
  }

  #forget(conn: Connection): void {
    conn.closed = true;
    clearTimeout(conn.timer);
    this.#setOf(conn.state).delete(conn);
  }
}

function isExhausted(error: unknown): boolean {
  return error instanceof Error && /os error (23|24)\b|too many open files/i.test(error.message);
}
