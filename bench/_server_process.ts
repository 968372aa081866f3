/**
 * A progtc server in a process of its own, as `deno task serve` runs it (same permissions, the
 * same `serve()`), for the benchmarks that must not share the bench's process: serves on
 * 127.0.0.1 port 0 and answers each line on stdin with one JSON line on stdout (a
 * {@linkcode ServerReport}). Ends when stdin closes.
 *
 * `deno run … _server_process.ts <api key> [<ServeOptions as JSON>]`. Commands, one per line:
 * - `` (empty) or `warm [ms]`: wait until the pool is full, let it settle `ms` (200) ms, report;
 * - `gc`: run the garbage collector twice (when started with `--v8-flags=--expose-gc`), report;
 * - `now`: report at once;
 * - `trim`: `malloc_trim(0)` (only with `--allow-ffi`), then report.
 *
 * With `--allow-ffi` (the memory diagnosis only), every report also carries glibc's
 * `mallinfo2()`.
 *
 * @module
 */
import { serve, type ServeOptions } from "../server/serve.ts";
import { readLines } from "../runner/lines.ts";
import { type MallocInfo, mallocInfo, mallocTrim } from "./_malloc.ts";

/** What the server process prints: its URL and `Deno.memoryUsage()`. */
export interface ServerReport {
  url: string;
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Executions running now. */
  running: number;
  /** Whether `gc` ran the collector. */
  collected: boolean;
  /** glibc malloc statistics, when the process may use FFI. */
  malloc?: MallocInfo;
}

if (import.meta.main) {
  const options = JSON.parse(Deno.args[1] ?? "{}") as Partial<ServeOptions>;
  const server = await serve({
    pythonPoolSize: 0,
    ...options,
    apiKey: Deno.args[0] ?? "bench-key",
    port: 0,
    log: () => {},
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const report = (collected = false) => {
    const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
    const out: ServerReport = {
      url: server.url,
      pid: Deno.pid,
      rss,
      heapUsed,
      heapTotal,
      external,
      running: server.app.running,
      collected,
    };
    const malloc = ffi ? mallocInfo() : undefined;
    if (malloc) out.malloc = malloc;
    console.log(JSON.stringify(out));
  };
  const warm = async (settleMs = 200) => {
    await server.app.runner.warm();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  };
  await warm();
  report();
  for await (const line of readLines(Deno.stdin.readable)) {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === "gc") {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc?.();
      report(gc !== undefined);
    } else if (command === "now") report();
    else if (command === "trim") {
      if (ffi) mallocTrim();
      report();
    } else {
      await warm(arg === undefined ? undefined : Number(arg));
      report();
    }
  }
  await server.shutdown();
}
