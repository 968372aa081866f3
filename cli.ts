/**
 * The `progtc` command line: `progtc serve [options]`, `progtc mcp [options]` (in `mcp/cli.ts`),
 * `--help`, `--version`.
 *
 * @example
 * ```sh
 * deno task serve --host 127.0.0.1 --port 8000 --api-key your-secret-key
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { type Language, LANGUAGES } from "./protocol.ts";
import { type ProgtcServer, serve, type ServeOptions } from "./server/serve.ts";
import { preparePython } from "./runner/python.ts";
import { envName, type KeySource, settingsSummary, withEnv } from "./server/config.ts";
export type { KeySource } from "./server/config.ts";
import { createLogger, LOG_FORMATS, type LogFormat } from "./server/log.ts";

/** The version of this package. */
export const VERSION: string = denoJson.version;

const HELP = `progtc ${VERSION}: programmatic tool calling in a locked sandbox

Usage:
  progtc serve [options]
  progtc prepare          Build the Python snapshot now (install time, Docker images)
  progtc mcp --config servers.json [options]
                          A code-mode MCP server in front of MCP servers (progtc mcp --help)
  progtc --help | --version

Every option is also read from PROGTC_<OPTION> (PROGTC_PORT, PROGTC_CODE_EXECUTION_TIMEOUT,
...); the command line wins. Give the API key as PROGTC_API_KEY: on the command line it is
visible to every user of the machine (ps) and in your shell history.

Options of serve (defaults in brackets):
  --host <address>              Address to bind to [127.0.0.1]
  --port <port>                 Port to bind to; 0 picks a free one [8000]
  --api-key <key>               API key clients must send (prefer PROGTC_API_KEY); when
                                neither is set, a random key is generated and printed
  --tool-call-timeout <s>       Seconds before a tool call fails with TimeoutError [10]
  --code-execution-timeout <s>  Seconds before a program is stopped [30]
  --max-connections <n>         Connections open at once; at the cap a new one replaces the
                                oldest without a request in progress [half of ulimit -n, at
                                most 4096]
  --header-timeout <s>          Seconds a new connection may take to send its headers [10]
  --idle-timeout <s>            Seconds a connection may stay open between requests [75]
  --language <name>             Language of requests that name none (in the body or an
                                X-Progtc-Language header): typescript, javascript or
                                python [typescript]
  --log-format <text|json>      Log lines as text or one JSON object per line [text]
  --drain-timeout <s>           On SIGTERM, seconds running executions may take to finish
                                before they are ended [25]
  --cors-origin <origin>        Let browser pages of this origin call the server (CORS);
                                repeatable, or a comma-separated list [none]
  --sandbox-deno <path>         The Deno binary sandboxes run on [this Deno]
  --pool-size <n>               TypeScript/JavaScript sandbox hosts kept ready [2]
  --python-pool-size <n>        Python sandbox hosts kept ready; given, they start with the
                                server, else on the first Python program [1]
  --heap-mb <MiB>               V8 heap cap per isolate of a sandbox [256]
  --data-mb <MiB>               Data rlimit per sandbox host, ArrayBuffers included [2304]
  --python-data-mb <MiB>        Data rlimit per Python sandbox host [3072]
  --python-memory-mb <MiB>      Largest heap of a Python program; MemoryError past it [512]
  --max-concurrent <n>          Executions running at once [64]
  --memory-budget-mb <MiB>      Memory running and paused sandboxes may hold together, each
                                counted at its cap; over it requests wait, then 503
                                [half the memory available at start]
  --sandbox-memory-mb <MiB>     Memory cap of one TypeScript/JavaScript sandbox (its cgroup's
                                limit where cgroups can be made) [768]
  --python-sandbox-memory-mb <MiB>
                                Memory cap of one Python sandbox [1536]
  --cgroups <auto|off>          A memory cgroup per sandbox where possible, or the data
                                rlimit only [auto]
  --queue-timeout <s>           Seconds a request waits for a free slot before 503 [10]
  --max-body-bytes <n>          Largest request body [10485760]
  --max-program-bytes <n>       Largest program (code and modules, UTF-8) [1048576]
  --max-output-bytes <n>        Output kept per execution, then truncated [4194304]
  --max-tool-calls <n>          Tool calls per execution [1000]
  --max-tool-args-bytes <n>     JSON arguments per tool call [1048576]
  --max-tool-result-bytes <n>   JSON result per tool call [4194304]
  --max-buffered-bytes <n>      Bytes an event stream holds for a client that does not
                                read, its terminal frame included [16777216]
  --unread-stream-timeout <s>   Seconds an ended execution's event stream may stay unread
                                before its connection is closed [30]
  --max-step-answer-bytes <n>   JSON of the tool calls of one step answer; a call past it
                                fails in the program [16777216]
  --max-held-bytes <n>          Bytes held for all clients together (unsent frames, kept
                                output, step answers) [an eighth of the memory available]

Sandbox hosts (each runs one program at a time, each program in a fresh worker):
  --host-max-runs <n>           Programs per host before it is retired; 1: a new process
                                for every program [1000]
  --host-max-age <s>            Seconds after which a host takes no more programs [600]
  --host-max-rss-mb <MiB>       Memory above which a host takes no more programs
                                (Python hosts: twice this) [512]
  --host-idle-timeout <s>       Seconds an unneeded ready host waits before it is retired [60]
  --max-hosts <n>               Hosts per language at once [max-concurrent + max-paused]

Step API (POST /execute-code-step):
  --state-secret <secret>       Key that signs state tokens; servers sharing it accept each
                                other's tokens [env PROGTC_STATE_SECRET; else derived from the
                                API key]
  --max-state-bytes <n>         Largest step state, in bytes of JSON, issued or accepted
                                (its token is at most ~4/3 of it) [4194304]
  --state-max-age <s>           Seconds a state token stays valid [604800]
  --warm-resume-ttl <s>         Seconds a paused execution is held to resume without replay;
                                0 always replays [60]
  --max-paused <n>              Paused executions held at once [32]
`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  "api-key": { type: "string" },
  "tool-call-timeout": { type: "string" },
  "code-execution-timeout": { type: "string" },
  language: { type: "string" },
  "max-connections": { type: "string" },
  "header-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "pool-size": { type: "string" },
  "python-pool-size": { type: "string" },
  "heap-mb": { type: "string" },
  "data-mb": { type: "string" },
  "max-concurrent": { type: "string" },
  "memory-budget-mb": { type: "string" },
  "sandbox-memory-mb": { type: "string" },
  "python-sandbox-memory-mb": { type: "string" },
  cgroups: { type: "string" },
  "queue-timeout": { type: "string" },
  "max-body-bytes": { type: "string" },
  "max-program-bytes": { type: "string" },
  "max-output-bytes": { type: "string" },
  "max-tool-calls": { type: "string" },
  "max-tool-args-bytes": { type: "string" },
  "max-tool-result-bytes": { type: "string" },
  "max-buffered-bytes": { type: "string" },
  "unread-stream-timeout": { type: "string" },
  "max-step-answer-bytes": { type: "string" },
  "max-held-bytes": { type: "string" },
  "python-data-mb": { type: "string" },
  "python-memory-mb": { type: "string" },
  "host-max-runs": { type: "string" },
  "host-max-age": { type: "string" },
  "host-max-rss-mb": { type: "string" },
  "host-idle-timeout": { type: "string" },
  "max-hosts": { type: "string" },
  "state-secret": { type: "string" },
  "log-format": { type: "string" },
  "drain-timeout": { type: "string" },
  "cors-origin": { type: "string", multiple: true },
  "sandbox-deno": { type: "string" },
  "max-state-bytes": { type: "string" },
  "state-max-age": { type: "string" },
  "warm-resume-ttl": { type: "string" },
  "max-paused": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** A command-line mistake: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  /** A usage error saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function number(
  values: Record<string, unknown>,
  name: string,
  integer: boolean,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw === "" || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`Invalid value for --${name}: ${raw}`);
  }
  return value;
}

/** What {@linkcode parseServeArgs} found. */
export interface ParsedServeArgs {
  /** The server's options. */
  options: ServeOptions;
  /** No key was given: `options.apiKey` was generated for this run. */
  generatedKey: boolean;
  /** Where the API key came from. */
  keySource: KeySource;
  /** Flags whose values came from `PROGTC_*` variables. */
  fromEnv: string[];
  /** Things to tell the operator (a secret on the command line). */
  warnings: string[];
}

const SERVE_FLAGS = Object.keys(OPTIONS).filter((name) => name !== "help" && name !== "version");

/**
 * Parses the arguments of `progtc serve` into server options. Every flag missing from `args`
 * is read from `env` as `PROGTC_<FLAG>` (`--drain-timeout` from `PROGTC_DRAIN_TIMEOUT`); the
 * API key falls back to a generated one (`generatedKey: true`).
 *
 * @example
 * ```ts
 * import { parseServeArgs } from "./cli.ts";
 * const { options } = parseServeArgs(["--port", "9000"], { PROGTC_API_KEY: "k" });
 * console.assert(options.port === 9000 && options.apiKey === "k");
 * ```
 */
export function parseServeArgs(
  args: string[],
  env: Record<string, string | undefined>,
): ParsedServeArgs {
  let parsed;
  try {
    ({ values: parsed } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const cli = parsed as Record<string, string | string[] | boolean | undefined>;
  // An empty `--api-key ""` counts as not given, as before: the environment's key applies.
  if (cli["api-key"] === "") delete cli["api-key"];
  const merged = withEnv(cli, SERVE_FLAGS, env, ["cors-origin"]);
  const values = merged.values as {
    [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[]
      : (typeof OPTIONS)[K] extends { type: "boolean" } ? boolean
      : string;
  };
  const warnings: string[] = [];
  for (const secret of ["api-key", "state-secret"]) {
    if (cli[secret] !== undefined) {
      warnings.push(
        `--${secret} was given on the command line, where every user of this machine can read ` +
          `it (ps, /proc) and your shell keeps it: set ${envName(secret)} instead`,
      );
    }
  }
  const logFormat = values["log-format"];
  if (logFormat !== undefined && !(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new UsageError(`Invalid value for --log-format: ${logFormat} (text or json)`);
  }
  const corsOrigins = (values["cors-origin"] ?? []).flatMap((o) => o.split(","))
    .map((o) => o.trim()).filter(Boolean);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new UsageError(
        `Invalid value for --cors-origin: ${origin} (scheme://host[:port], no path)`,
      );
    }
  }
  if (values.cgroups !== undefined && values.cgroups !== "auto" && values.cgroups !== "off") {
    throw new UsageError(`Invalid value for --cgroups: ${values.cgroups} (auto or off)`);
  }
  const language = values.language;
  if (language !== undefined && !(LANGUAGES as readonly string[]).includes(language)) {
    throw new UsageError(`Invalid value for --language: ${language}`);
  }
  const port = number(values, "port", true);
  if (port !== undefined && port > 65535) throw new UsageError(`Invalid value for --port: ${port}`);
  const apiKey = values["api-key"] ?? "";
  const generatedKey = apiKey === "";
  const keySource: KeySource = generatedKey
    ? "generated"
    : cli["api-key"] !== undefined
    ? "command line"
    : "environment";
  const entries: [keyof ServeOptions, unknown][] = [
    ["host", values.host],
    ["port", port],
    ["apiKey", generatedKey ? crypto.randomUUID().replaceAll("-", "") : apiKey],
    ["toolCallTimeout", number(values, "tool-call-timeout", false)],
    ["codeExecutionTimeout", number(values, "code-execution-timeout", false)],
    ["language", language as Language | undefined],
    ["maxConnections", number(values, "max-connections", true)],
    ["headerTimeout", number(values, "header-timeout", false)],
    ["idleTimeout", number(values, "idle-timeout", false)],
    ["poolSize", number(values, "pool-size", true)],
    ["pythonPoolSize", number(values, "python-pool-size", true)],
    ["heapMb", number(values, "heap-mb", true)],
    ["dataMb", number(values, "data-mb", true)],
    ["maxConcurrent", number(values, "max-concurrent", true)],
    ["memoryBudgetMb", number(values, "memory-budget-mb", true)],
    ["sandboxMemoryMb", number(values, "sandbox-memory-mb", true)],
    ["pythonSandboxMemoryMb", number(values, "python-sandbox-memory-mb", true)],
    ["cgroups", values.cgroups],
    ["queueTimeoutMs", mapDefined(number(values, "queue-timeout", false), (s) => s * 1000)],
    ["maxBodyBytes", number(values, "max-body-bytes", true)],
    ["maxProgramBytes", number(values, "max-program-bytes", true)],
    ["maxOutputBytes", number(values, "max-output-bytes", true)],
    ["maxToolCalls", number(values, "max-tool-calls", true)],
    ["maxToolArgsBytes", number(values, "max-tool-args-bytes", true)],
    ["maxToolResultBytes", number(values, "max-tool-result-bytes", true)],
    ["maxBufferedBytes", number(values, "max-buffered-bytes", true)],
    ["unreadStreamTimeout", number(values, "unread-stream-timeout", false)],
    ["maxStepAnswerBytes", number(values, "max-step-answer-bytes", true)],
    ["maxHeldBytes", number(values, "max-held-bytes", true)],
    ["pythonDataMb", number(values, "python-data-mb", true)],
    ["pythonMemoryMb", number(values, "python-memory-mb", true)],
    ["hostMaxRuns", number(values, "host-max-runs", true)],
    ["hostMaxAge", number(values, "host-max-age", false)],
    ["hostMaxRssMb", number(values, "host-max-rss-mb", true)],
    ["hostIdleTimeout", number(values, "host-idle-timeout", false)],
    ["maxHosts", number(values, "max-hosts", true)],
    ["stateSecret", values["state-secret"] || undefined],
    ["maxStateBytes", number(values, "max-state-bytes", true)],
    ["stateMaxAge", number(values, "state-max-age", false)],
    ["warmResumeTtl", number(values, "warm-resume-ttl", false)],
    ["maxPaused", number(values, "max-paused", true)],
    ["logFormat", logFormat as LogFormat | undefined],
    ["drainTimeout", number(values, "drain-timeout", false)],
    ["corsOrigins", corsOrigins.length > 0 ? corsOrigins : undefined],
    ["denoPath", values["sandbox-deno"] || undefined],
  ];
  const options = Object.fromEntries(
    entries.filter(([, v]) => v !== undefined),
  ) as unknown as ServeOptions;
  return { options, generatedKey, keySource, fromEnv: merged.fromEnv, warnings };
}

function mapDefined<T, U>(value: T | undefined, f: (value: T) => U): U | undefined {
  return value === undefined ? undefined : f(value);
}

/** Runs the command line; resolves with the exit code once the server stops. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const asks = (...flags: string[]) =>
    flags.includes(command ?? "") || rest.some((a) => flags.includes(a));
  // `progtc mcp` has its own flags and help; loaded only for it (the MCP SDK reads the
  // environment as it loads, which `serve` and `--help` need not allow).
  if (command === "mcp") return await (await import("./mcp/cli.ts")).mcpMain(rest, VERSION);
  if (asks("--version", "-V")) {
    console.log(VERSION);
    return 0;
  }
  if (command === undefined || asks("--help", "-h")) {
    console.log(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "prepare") {
    const entry = await preparePython();
    console.error(`Python snapshot ready (${Math.round(entry.buildMs)} ms): ${entry.snapshot}`);
    return 0;
  }
  if (command !== "serve") {
    console.error(`Unknown command: ${command}\nRun progtc --help for usage.`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseServeArgs(rest, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun progtc --help for usage.`);
    return 2;
  }
  const { options, generatedKey, keySource, warnings } = parsed;
  const log = createLogger(options.logFormat ? { format: options.logFormat } : {});
  for (const warning of warnings) log.warn(warning, { event: "config" });
  const message = (error: unknown) => error instanceof Error ? error.message : String(error);
  // Signals count from the start: one during start-up drains once the server is up.
  const started = Promise.withResolvers<ProgtcServer>();
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  const stop = async (signal: Deno.Signal) => {
    const server = await started.promise;
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
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  const server = await serve({
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
      log.info(`progtc ${VERSION} listening on http://${addr.hostname}:${addr.port}`, {
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
  started.resolve(server);
  const runner = server.app.runner;
  const bound = runner.memoryBound;
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  log.info(
    `sandbox memory: ${
      bound.kind === "cgroup"
        ? `a cgroup v${bound.version} per sandbox (${bound.root})`
        : `the data rlimit only (no cgroup: ${bound.why})`
    }; caps ${mib(runner.memoryBytes("typescript"))} MiB (TypeScript), ${
      mib(runner.memoryBytes("python"))
    } MiB (Python); budget ${mib(server.app.memory.budget)} MiB`,
    { event: "memory" },
  );
  if (!server.app.runner.reusesHosts) {
    log.warn(
      "sandbox processes cannot be checked through /proc (not Linux, or the server " +
        "runs without --allow-all): every program gets a new sandbox process, which is slower",
    );
  }
  if (!server.app.runner.dataLimited) {
    log.warn(
      "prlimit not found: sandboxes run without a data rlimit, so ArrayBuffer and " +
        "wasm memory are not capped (install util-linux)",
    );
  }
  await stopped.promise;
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
