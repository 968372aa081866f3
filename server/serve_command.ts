/**
 * `progtc serve`: reads the options (flags, then `PROGTC_*`), starts the server, logs its
 * settings, and drains on SIGTERM or SIGINT (a second signal ends what still runs). A bad value
 * or a failed start is one line on stderr and exit code 2, never a stack trace.
 *
 * @module
 */
import { settingsSummary } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { OptionError } from "./option_kinds.ts";
import { type ProgtcServer, serve } from "./serve.ts";
import {
  describeOptionError,
  type ParsedServeArgs,
  parseServeArgs,
  UsageError,
} from "./serve_args.ts";

/** Runs `progtc serve <args>` as `progtc <version>`; resolves with the exit code once stopped. */
export async function serveCommand(args: string[], version: string): Promise<number> {
  let parsed: ParsedServeArgs;
  try {
    parsed = parseServeArgs(args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usage(error.message);
  }
  const { options, generatedKey, keySource, warnings, sources } = parsed;
  const log = createLogger(options.logFormat ? { format: options.logFormat } : {});
  for (const warning of warnings) log.warn(warning, { event: "config" });
  // Signals count from the start: one during start-up drains once the server is up.
  const started = Promise.withResolvers<ProgtcServer | undefined>();
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  const stop = async (signal: Deno.Signal) => {
    const server = await started.promise;
    if (!server) return;
    if (stopping) {
      // A second signal: do not wait for the drain.
      log.warn(`${signal} again: ending running executions now`, { event: "stop" });
      server.shutdown().then(stopped.resolve, stopped.reject);
      return;
    }
    stopping = true;
    log.info(`${signal}: refusing new executions, draining running ones`, { event: "stop" });
    server.drain().then(stopped.resolve, stopped.reject);
  };
  const onTerm = () => stop("SIGTERM");
  const onInt = () => stop("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  let server: ProgtcServer;
  try {
    server = await serve({
      ...options,
      onSpawnError: (error) =>
        log.error(`sandbox failed to start: ${message(error)}`, { event: "spawn_error" }),
      onPythonProgress: (line) => log.info(line, { event: "python_snapshot" }),
      onPythonReady: ({ buildMs, snapshot }) =>
        log.info(
          buildMs > 0
            ? `Python snapshot built in ${(buildMs / 1000).toFixed(1)} s: ${snapshot}`
            : `Python snapshot found: ${snapshot}`,
          { event: "python_ready", build_ms: Math.round(buildMs) },
        ),
      onListen: (addr) => {
        log.info(`progtc ${version} listening on http://${addr.hostname}:${addr.port}`, {
          event: "listening",
          host: addr.hostname,
          port: addr.port,
        });
        log.info(settingsSummary({ ...options, port: addr.port }, keySource), {
          event: "settings",
        });
        if (generatedKey) {
          // The one place a secret is written: the operator needs it, and asked for none.
          log.warn(`No API key was given; generated one for this run: ${options.apiKey}`);
        }
      },
    });
  } catch (error) {
    started.resolve(undefined);
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
    if (error instanceof OptionError) return usage(describeOptionError(error, sources));
    console.error(`error: progtc could not start: ${message(error)}`);
    return 1;
  }
  started.resolve(server);
  logSandboxes(server, log);
  await stopped.promise;
  return 0;
}

/** The one line for a mistake, and exit code 2. */
function usage(line: string): number {
  console.error(`error: ${line}`);
  return 2;
}

/** What bounds the sandboxes' memory, and what the server cannot do on this machine. */
function logSandboxes(server: ProgtcServer, log: Logger): void {
  const runner = server.app.runner;
  const bound = runner.memoryBound;
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  log.info(
    `sandbox memory: ${
      bound.kind === "cgroup"
        ? `a cgroup v${bound.version} per sandbox host, and one for them all limited to the ` +
          `budget (${bound.root})`
        : `the data rlimit only (no cgroup: ${bound.why})`
    }; budget ${mib(server.app.memory.budget)} MiB, counted as measured`,
    { event: "memory" },
  );
  if (!runner.checksHosts) {
    log.warn(
      "sandbox processes cannot be checked through /proc (not Linux, or the server " +
        "runs without --allow-all): every program gets a new sandbox process, which is slower",
    );
  }
  if (!runner.dataLimited) {
    log.warn(
      "prlimit not found: sandboxes run without a data rlimit, so ArrayBuffer and " +
        "wasm memory are not capped (install util-linux)",
    );
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
