/**
 * A real progtc server for benchmarks: `serve()` on 127.0.0.1 port 0, real sandboxes, a real
 * `ProgtcClient` over real sockets, logs discarded.
 *
 * @module
 */
import { ProgtcClient } from "../client/mod.ts";
import { type ProgtcServer, serve, type ServeOptions } from "../server/serve.ts";

/** The API key benchmark servers use. */
export const BENCH_API_KEY = "bench-key";

/** A running progtc server and a client for it; disposing stops the server. */
export interface BenchServer extends AsyncDisposable {
  server: ProgtcServer;
  client: ProgtcClient;
  /** Waits until the TypeScript pool is full again. */
  warm(): Promise<void>;
}

/** Starts a progtc server (default pool size unless overridden) and waits until it is warm. */
export async function startBenchServer(options: Partial<ServeOptions> = {}): Promise<BenchServer> {
  const server = await serve({
    apiKey: BENCH_API_KEY,
    port: 0,
    pythonPoolSize: 0,
    log: () => {},
    ...options,
  });
  const warm = () => server.app.runner.warm();
  await warm();
  return {
    server,
    client: new ProgtcClient({ baseUrl: server.url, apiKey: BENCH_API_KEY }),
    warm,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
