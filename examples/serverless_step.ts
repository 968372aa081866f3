/**
 * The step API alone, as a `deno serve` module: for hosts that run one request per invocation
 * behind any load balancer. Every step replays the program (warm resume is off), so any
 * instance can take any step; instances sharing PROGTC_API_KEY (or PROGTC_STATE_SECRET)
 * accept each other's state tokens.
 *
 * ```sh
 * PROGTC_API_KEY=secret deno serve --allow-net --allow-env --allow-read --allow-write --allow-run \
 *   --port 8000 examples/serverless_step.ts
 * ```
 *
 * @module
 */
import { createApp } from "../server/app.ts";

const apiKey = Deno.env.get("PROGTC_API_KEY");
if (!apiKey) throw new Error("Cannot start: set PROGTC_API_KEY");

const stateSecret = Deno.env.get("PROGTC_STATE_SECRET");
const app = await createApp({
  apiKey,
  endpoints: ["step"],
  warmResumeTtlMs: 0,
  poolSize: 1,
  pythonPoolSize: 0,
  ...(stateSecret ? { stateSecret } : {}),
});

// Idle sandboxes are child processes: without this, `deno serve` would wait on them forever.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => app.close().then(() => Deno.exit(0)));
}

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;
