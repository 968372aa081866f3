/**
 * `serve()`: the progtc application on Deno's HTTP server, behind our own connection handling
 * (`connections.ts`: header and idle timeouts, a cap on open connections, and file descriptor
 * exhaustion that refuses connections instead of ending the process).
 *
 * @module
 */
import { type App, createApp } from "./app.ts";
import {
  canServeConnections,
  Connections,
  type ConnectionStats,
  defaultMaxConnections,
} from "./connections.ts";
import { type AppOptions, loggerOf } from "./options.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions extends AppOptions {
  /**
   * Address to listen on.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * Port to listen on; 0 picks a free one.
   * @default {8000}
   */
  port?: number;
  /**
   * Connections open at once; at the cap, a new one replaces the oldest that has no request in
   * progress.
   * @default {half the file descriptor limit, at most 4096}
   */
  maxConnections?: number;
  /**
   * Seconds a new connection may take to send its first request's headers.
   * @default {10}
   */
  headerTimeout?: number;
  /**
   * Seconds a connection may stay open with no request in progress.
   * @default {75}
   */
  idleTimeout?: number;
  /**
   * Seconds {@linkcode ProgtcServer.drain} lets running executions finish before it ends them
   * (fits a 30 s termination grace period, such as Kubernetes' default).
   * @default {25}
   */
  drainTimeout?: number;
  /** Called once the server listens. */
  onListen?: (address: Deno.NetAddr) => void;
}

/** A listening progtc server. */
export interface ProgtcServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** `http://host:port` of the server. */
  readonly url: string;
  /** The application behind it. */
  readonly app: App;
  /** Its connections so far (absent on a Deno that cannot serve accepted connections). */
  readonly connections: ConnectionStats | undefined;
  /** Ends running executions with a terminal frame, then stops listening. */
  shutdown(): Promise<void>;
  /**
   * Stops taking executions (`503 shutting_down`; `/ready` answers 503), lets the running ones
   * finish (their tool results are still served) for up to `drainTimeout`, then
   * {@linkcode shutdown}s: what is still running ends with a terminal frame.
   */
  drain(): Promise<void>;
}

/**
 * Starts a progtc server.
 *
 * @example
 * ```ts ignore
 * import { serve } from "./serve.ts";
 * await using server = await serve({ apiKey: "secret", port: 0 });
 * console.log(server.url);
 * ```
 */
export async function serve(options: ServeOptions): Promise<ProgtcServer> {
  const app = await createApp(options);
  const logger = loggerOf(options);
  const log = (line: string) => logger.warn(line);
  let addr: Deno.NetAddr;
  let stop: () => Promise<void>;
  let stats: () => ConnectionStats | undefined = () => undefined;
  if (canServeConnections) {
    const connections = new Connections({
      hostname: options.host ?? "127.0.0.1",
      port: options.port ?? 8000,
      maxConnections: options.maxConnections ?? defaultMaxConnections(),
      headerTimeoutMs: (options.headerTimeout ?? 10) * 1000,
      idleTimeoutMs: (options.idleTimeout ?? 75) * 1000,
      log,
    }, (request) => app.fetch(request));
    addr = connections.addr;
    stop = () => connections.shutdown();
    stats = () => connections.stats;
  } else {
    log("warning: this Deno cannot serve accepted connections: no connection limits or timeouts");
    const listening = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve({
      hostname: options.host ?? "127.0.0.1",
      port: options.port ?? 8000,
      onListen: (address) => listening.resolve(address as Deno.NetAddr),
    }, app.fetch);
    addr = await listening.promise;
    stop = () => server.shutdown();
  }
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    stopped ??= (async () => {
      await app.close();
      await stop();
    })();
  const drainMs = (options.drainTimeout ?? 25) * 1000;
  let drained: Promise<void> | undefined;
  const drain = () =>
    drained ??= (async () => {
      app.drain();
      const deadline = performance.now() + drainMs;
      if (app.running > 0) {
        logger.info(
          `draining: ${app.running} executions running, up to ${drainMs / 1000} s to finish`,
          { event: "drain", running: app.running, drain_timeout_s: drainMs / 1000 },
        );
      }
      while (app.running > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const left = app.running;
      logger.info(
        left > 0
          ? `drain timeout: ending ${left} executions still running`
          : "drained: no execution running",
        { event: "drained", ended: left },
      );
      await shutdown();
    })();
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    addr,
    url: `http://${host}:${addr.port}`,
    app,
    get connections() {
      return stats();
    },
    shutdown,
    drain,
    [Symbol.asyncDispose]: shutdown,
  };
}
