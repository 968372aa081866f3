/**
 * A progtc server in a process of its own, for memory measurements: serves on port 0 with the
 * default options, and answers each line on stdin (after waiting until the pool is warm) with
 * one JSON line on stdout: `{url, rss, heapUsed}` (`Deno.memoryUsage()` of this process).
 * Ends when stdin closes.
 *
 * @module
 */
import { serve } from "../server/serve.ts";
import { readLines } from "../runner/lines.ts";

if (import.meta.main) {
  const server = await serve({
    apiKey: Deno.args[0] ?? "bench-key",
    port: 0,
    pythonPoolSize: 0,
    log: () => {},
  });
  const report = async () => {
    await server.app.runner.warm();
    // Let the refill settle and the collector run before reading memory.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { rss, heapUsed } = Deno.memoryUsage();
    console.log(JSON.stringify({ url: server.url, rss, heapUsed }));
  };
  await report();
  for await (const _ of readLines(Deno.stdin.readable)) await report();
  await server.shutdown();
}
