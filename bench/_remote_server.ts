/**
 * Starts `_server_process.ts`: a progtc server in a process of its own with the permissions of
 * `deno task serve`, and a `ProgtcClient` for it in the bench process; or another helper that
 * speaks the same line protocol.
 *
 * @module
 */
import { ProgtcClient } from "../client/mod.ts";
import type { ServeOptions } from "../server/serve.ts";
import { BENCH_DIR, type Helper, startHelper } from "./_helper_process.ts";
import type { ServerReport } from "./_server_process.ts";
import { BENCH_API_KEY } from "./_server.ts";

/** Options that are not `serve()` options. */
export interface RemoteServerOptions {
  /** Extra environment variables of the server process (e.g. glibc malloc tunables). */
  env?: Record<string, string>;
  /** V8 flags of the server process, e.g. `["--max-semi-space-size=2"]`. */
  v8Flags?: string[];
  /** Start with `--expose-gc` so that the `gc` command can collect. */
  exposeGc?: boolean;
  /** Also grant `--allow-ffi`, for glibc malloc statistics (diagnosis only). */
  allowFfi?: boolean;
}

/** A progtc server process. */
export interface RemoteServer extends AsyncDisposable {
  url: string;
  pid: number;
  client: ProgtcClient;
  /** Waits until the pool is full and `settleMs` (200) more; the server's own report. */
  warm(settleMs?: number): Promise<ServerReport>;
  /** Runs the collector (when exposed) and reports. */
  gc(): Promise<ServerReport>;
  /** Reports at once. */
  now(): Promise<ServerReport>;
  /** `malloc_trim(0)` in the server (with `allowFfi`), then reports. */
  trim(): Promise<ServerReport>;
  /** Sends any command line and resolves with the report that answers it. */
  ask(command: string): Promise<ServerReport>;
}

/** The permissions `deno task serve` grants. */
export const SERVE_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-run"];

/** The memory tuning `deno task serve` runs with (see deno.json). */
export const SERVE_TUNING: Required<Pick<RemoteServerOptions, "env" | "v8Flags">> = {
  env: { MALLOC_MMAP_THRESHOLD_: "65536" },
  v8Flags: ["--max-semi-space-size=2"],
};

/**
 * Starts a server process as `deno task serve` does (its permissions and memory tuning, unless
 * `remote` gives its own `env` or `v8Flags`) and waits until its pool is warm.
 */
export function startRemoteServer(
  options: Partial<ServeOptions> = {},
  remote: RemoteServerOptions = {},
): Promise<RemoteServer> {
  return startReportingProcess([
    ...SERVE_PERMISSIONS,
    `${BENCH_DIR}_server_process.ts`,
    BENCH_API_KEY,
    JSON.stringify(options),
  ], { ...SERVE_TUNING, ...remote });
}

/**
 * Starts `deno run [flags] <permissions and script>` for a helper that speaks the
 * `_server_process.ts` line protocol (`_server_process.ts`, `_runner_process.ts`,
 * `_echo_process.ts`) and waits for its first report.
 */
export async function startReportingProcess(
  args: string[],
  remote: RemoteServerOptions = {},
): Promise<RemoteServer> {
  const v8 = [...remote.v8Flags ?? [], ...remote.exposeGc ? ["--expose-gc"] : []];
  const helper: Helper = startHelper([
    "run",
    "--quiet",
    ...(remote.allowFfi ? ["--allow-ffi"] : []),
    ...(v8.length > 0 ? [`--v8-flags=${v8.join(",")}`] : []),
    ...args,
  ], remote.env ? { env: remote.env } : {});
  let first: ServerReport;
  try {
    first = JSON.parse(await helper.next());
  } catch (error) {
    await helper[Symbol.asyncDispose]();
    throw error;
  }
  const ask = async (command: string) => JSON.parse(await helper.ask(command)) as ServerReport;
  return {
    url: first.url,
    pid: helper.pid,
    client: new ProgtcClient({ baseUrl: first.url || "http://invalid", apiKey: BENCH_API_KEY }),
    ask,
    warm: (settleMs) => ask(settleMs === undefined ? "warm" : `warm ${settleMs}`),
    gc: () => ask("gc"),
    now: () => ask("now"),
    trim: () => ask("trim"),
    [Symbol.asyncDispose]: () => helper[Symbol.asyncDispose](),
  };
}
