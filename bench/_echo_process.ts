/**
 * The bare Deno SSE echo (`echo_baseline.ts`) in a process of its own, the way a progtc server
 * runs in its own process: prints its URL (as a {@linkcode ServerReport}), then answers each
 * stdin line with a report, like `_server_process.ts` (`gc`, `trim`, anything else: report at
 * once). Ends when stdin closes.
 *
 * @module
 */
import { startEchoServer } from "./echo_baseline.ts";
import { readLines } from "../runner/lines.ts";
import { mallocInfo, mallocTrim } from "./_malloc.ts";
import type { ServerReport } from "./_server_process.ts";

if (import.meta.main) {
  await using echo = await startEchoServer();
  const gc = (globalThis as { gc?: () => void }).gc;
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const report = (collected = false) => {
    const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
    const out: ServerReport = {
      url: echo.url,
      pid: Deno.pid,
      rss,
      heapUsed,
      heapTotal,
      external,
      running: 0,
      collected,
    };
    const malloc = ffi ? mallocInfo() : undefined;
    if (malloc) out.malloc = malloc;
    console.log(JSON.stringify(out));
  };
  report();
  for await (const line of readLines(Deno.stdin.readable)) {
    const command = line.trim().split(/\s+/)[0];
    if (command === "gc") {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc?.();
      report(gc !== undefined);
    } else {
      if (command === "trim" && ffi) mallocTrim();
      report();
    }
  }
}
