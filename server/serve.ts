/**
 * `serve()`: the progtc application on `Deno.serve`.
 *
 * @module
 */
import { type App, createApp } from "./app.ts";
import type { AppOptions } from "./options.ts";

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
  /** Ends running executions with a terminal frame, then stops listening. */
  shutdown(): Promise<void>;
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
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.host ?? "127.0.0.1",
    port: options.port ?? 8000,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, app.fetch);
  const addr = await listening.promise;
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    stopped ??= (async () => {
      await app.close();
      await server.shutdown();
    })();
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    addr,
    url: `http://${host}:${addr.port}`,
    app,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
