/**
 * One TCP connection as the accept loop (`connections.ts`) tracks it: its state (`new`,
 * `active`, `idle`), its timer, and Deno's "cut this connection" caught from the abort signal
 * given to its HTTP server; and how it is cut, or its socket closed.
 *
 * @module
 */
import type { HttpServer } from "./serve_http_on_connection.ts";

/** One connection: its state, and what cuts it. */
export class Connection {
  state: "new" | "active" | "idle" = "new";
  /** Closed by us, or by the peer. */
  closed = false;
  /** Its HTTP server ended (the socket is gone). */
  finished = false;
  inFlight = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Deno's "cut this connection" (its abort listener), caught from the signal we gave it. */
  cancel: (() => void) | undefined;
  cut = false;
  /** A signal that never fires: Deno only registers its abort listener on it. */
  readonly signal: AbortSignal = (() => {
    const signal = new AbortController().signal;
    Object.defineProperty(signal, "addEventListener", {
      value: (type: string, listener: () => void) => {
        if (type === "abort") this.cancel = listener;
      },
    });
    return signal;
  })();
  server: HttpServer | undefined;
}

/** Cuts a connection now; nothing happens if its server already ended. */
export function abort(conn: Connection): void {
  if (conn.finished || conn.cut) return;
  conn.cut = true;
  try {
    conn.cancel?.();
  } catch {
    // Its server closed by itself a moment ago (Deno: BadResource).
  }
}

/** Closes a socket, whether or not it is still open. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
