/**
 * `serve()`: the progtc application on Deno's HTTP server, behind our own connection handling
 * (`connections.ts`: header and idle timeouts, a cap on open connections, and file descriptor
 * exhaustion that refuses connections instead of ending the process).
 *
 * @module
 */
import { type App, createApp } from "./app.ts";
import { Connections, type ConnectionStats } from "./connections.ts";
import { canServeConnections } from "./serve_http_on_connection.ts";
import { listenProblem } from "./option_checks.ts";
import { type AppOptions, loggerOf, resolveOptions } from "./options.ts";

/** Options of {@linkcode serve}: the app's, and who to tell once it listens. */
export interface ServeOptions extends AppOptions {
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
   * finish (their tool results are still served) for up to `drainTimeoutMs`, then
   * {@linkcode shutdown}s: what is still running ends with a terminal frame.
   */
  drain(): Promise<void>;
}

/**
 * Starts a progtc server. Throws an `OptionError` naming the option when one cannot be used,
 * or the server cannot listen where it says (a port in use, a host that does not resolve).
 *
 * @example
 * ```ts ignore
 * import { serve } from "./serve.ts";
 * await using server = await serve({ apiKey: "secret", port: 0 });
 * console.log(server.url);
 * ```
 */
export async function serve(options: ServeOptions): Promise<ProgtcServer> {
  const config = resolveOptions(options);
  const app = await createApp(options);
  const logger = loggerOf(options);
  const log = (line: string) => logger.warn(line);
  let addr: Deno.NetAddr;
  let stop: () => Promise<void>;
  let stats: () => ConnectionStats | undefined = () => undefined;
  const listening = { hostname: config.host, port: config.port };
  if (canServeConnections) {
    let connections: Connections;
    try {
      connections = new Connections({
        ...listening,
        maxConnections: config.maxConnections,
        headerTimeoutMs: config.headerTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        log,
      }, (request) => app.fetch(request));
    } catch (error) {
      await app.close();
      throw listenProblem(error, config.host, config.port);
    }
    addr = connections.addr;
    stop = () => connections.shutdown();
    stats = () => connections.stats;
  } else {
    log("warning: this Deno cannot serve accepted connections: no connection limits or timeouts");
    const listened = Promise.withResolvers<Deno.NetAddr>();
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        ...listening,
        onListen: (address) => listened.resolve(address as Deno.NetAddr),
      }, app.fetch);
    } catch (error) {
      await app.close();
      throw listenProblem(error, config.host, config.port);
    }
    addr = await listened.promise;
    stop = () => server.shutdown();
  }
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    stopped ??= (async () => {
      await app.close();
      await stop();
    })();
  const drainMs = config.drainTimeoutMs;
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
