/**
 * Deno's per-connection HTTP server, `serveHttpOnConnection`: what `Deno.serve` runs for each
 * connection of its listener, internal to Deno (found on `Deno[Deno.internal]`), so that the
 * server can accept its connections itself. Absent from a Deno that does not have it.
 *
 * @module
 */

/** What answers a request of a connection. */
export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response>;

/** Deno's per-connection HTTP server (internal; what `Deno.serve` runs for each listener). */
export interface HttpServer {
  finished: Promise<void>;
}

/** Deno's function that serves HTTP on one accepted connection. */
export type ServeHttpOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Handler,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => HttpServer;

// deno-lint-ignore no-explicit-any
const internal = (Deno as any)[(Deno as any).internal] ?? {};

/** Deno's `serveHttpOnConnection`, if this Deno has it. */
export const serveHttpOnConnection: ServeHttpOnConnection | undefined =
  internal.serveHttpOnConnection;

/** Whether this Deno can serve connections the server accepted itself. */
export const canServeConnections: boolean = typeof serveHttpOnConnection === "function";
