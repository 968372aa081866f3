/**
 * The options of `progtc serve` and `serve()`, each defined once: its TypeScript key (unit in
 * the name), its flag (and so its `PROGTC_*` variable), its kind and bounds, its default (a
 * value, or a function of the machine and the other options), its help. The command line's
 * parser and help, the environment, the settings line, `resolveOptions`, the runner's options
 * and `serve()` all read this table; the declarations of `ServeOptions` are generated from it
 * (`server/option_types.ts`, `deno task options`).
 *
 * Adding an option is one entry here (then `deno task options`).
 *
 * @module
 */
import { LANGUAGES } from "../protocol.ts";
import { HOST_SPARES, hostIsolates, maxLineLength } from "../sandbox/messages.ts";
import { LOG_FORMATS } from "./log.ts";
import {
  bytes,
  count,
  duration,
  mebibytes,
  oneOf,
  OptionError,
  origins,
  secret,
  text,
  whole,
} from "./option_kinds.ts";
import { programCharge } from "./option_checks.ts";
import { type GroupedSpec, option, optional, section } from "./option_spec.ts";
import type { OptionValues } from "./option_types.ts";

export type { OptionValues };

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND = 1000;

/**
 * The smallest values of the memory limits at which a host starts and runs programs, in MiB
 * (below them, every program fails). Measured once on Deno 2.9.6, x86_64 Linux, with `prlimit`
 * and cgroup v1, by trying: a server started with the value, its pool warm, ran ten
 * `console.log(1)` (Python: `print(1)`), for values from the default down.
 * - Data rlimit, hosts of one program (`--host-max-programs 1`): TypeScript failed every
 *   program at 2600, none at 2800; Python failed every program at 2500, none at 2600 (a host
 *   runs its realm, its relay, its programs' workers and its spares, each an isolate that
 *   reserves ~520 MiB of address space before it runs anything; Python's hold Pyodide too).
 *   Hosts of more programs need more: `dataProblem` (option_checks.ts).
 * - V8 heap: a Python host did not start at 20, ran all ten at 21 (TypeScript from 4); 32
 *   keeps a margin.
 * - Memory cgroup: a TypeScript host failed at 16, ran all ten at 20 (32 keeps a margin); a
 *   Python host failed at 208, ran all ten at 224 (256).
 */
export const FLOOR_MB = {
  data: 2720,
  pythonData: 2688,
  heap: 32,
  sandbox: 32,
  pythonSandbox: 256,
} as const;

/**
 * Programs one host runs at once, by default: TypeScript workers take ~6 MiB each, so a host of
 * 64 holds its process's own ~30 MiB over many programs, and a host that dies (a program ran
 * its heap out, which V8 does not survive) ends at most 64; a Python worker takes ~60 MiB.
 */
export const HOST_MAX_PROGRAMS = { deno: 64, python: 16 } as const;

/** Address space each isolate reserves before it runs anything, in MiB (measured: ~520). */
export const ISOLATE_RESERVE_MB = 544;

/** Python hosts kept ready once the first Python program started them (no `--python-pool-size`). */
export const LAZY_PYTHON_POOL_SIZE = 1;

/** The smallest request body the server runs (28 bytes): a body limit below it refuses all. */
const SMALLEST_REQUEST = { code: "1", tool_names: [] };

/**
 * The table: every option. Sections in the order of the help; within the table, an option
 * whose default is computed from others comes after them.
 */
export const OPTIONS: OptionTable = {
  ...section("serve", {
    host: option({
      flag: "host",
      kind: text("<address>", "an address or host name of this machine"),
      default: "127.0.0.1",
      help: "Address to listen on",
      summary: true,
    }),
    port: option({
      flag: "port",
      kind: whole({ min: 0, max: 65535 }, { placeholder: "<port>" }),
      default: 8000,
      help: "Port to listen on; 0 picks a free one",
      summary: true,
    }),
    apiKey: option({
      flag: "api-key",
      kind: secret("<key>"),
      default: {
        text: "none (progtc serve generates one and prints it)",
        of: () => {
          throw new OptionError("apiKey", undefined, "an API key is required");
        },
      },
      help: "API key clients must send (prefer PROGTC_API_KEY)",
      summary: true,
    }),
    toolCallTimeoutMs: option({
      flag: "tool-call-timeout",
      kind: duration({ min: 1 }),
      default: 10 * SECOND,
      help: "How long a tool call may take before the program sees a TimeoutError",
      summary: true,
    }),
    codeExecutionTimeoutMs: option({
      flag: "code-execution-timeout",
      kind: duration({ min: 1 }),
      default: 30 * SECOND,
      help: "How long a program may run before it is stopped (timeout_error)",
      summary: true,
    }),
    language: option({
      flag: "language",
      kind: oneOf(LANGUAGES),
      default: "typescript",
      help: "Language of requests that name none (in the body or an X-Progtc-Language header)",
      summary: true,
    }),
    logFormat: option({
      flag: "log-format",
      kind: oneOf(LOG_FORMATS),
      default: "text",
      help: "Log lines as text, or one JSON object per line",
      summary: true,
    }),
    // The other half of the file descriptors is for sandbox pipes and the server itself.
    maxConnections: option({
      flag: "max-connections",
      kind: count(1),
      default: {
        text: "half of ulimit -n, at most 4096",
        of: ({ machine }) =>
          Math.max(16, Math.min(4096, Math.floor(machine.maxOpenFiles() / 2) - 32)),
      },
      help: "Connections open at once; at the cap a new one replaces the oldest without a " +
        "request in progress",
    }),
    headerTimeoutMs: option({
      flag: "header-timeout",
      kind: duration({ min: 1 }),
      default: 10 * SECOND,
      help: "How long a new connection may take to send its headers",
    }),
    idleTimeoutMs: option({
      flag: "idle-timeout",
      kind: duration({ min: 1 }),
      default: 75 * SECOND,
      help: "How long a connection may stay open between requests",
    }),
    bodyTimeoutMs: option({
      flag: "body-timeout",
      kind: duration({ min: 1 }),
      default: 30 * SECOND,
      help: "How long a request body may take to arrive (else 408 body_timeout)",
    }),
    drainTimeoutMs: option({
      flag: "drain-timeout",
      kind: duration({ min: 0 }),
      default: 25 * SECOND,
      help: "On SIGTERM, how long running executions may take to finish before they are ended; " +
        "0 ends them at once",
      summary: true,
    }),
    corsOrigins: option({
      flag: "cors-origin",
      kind: origins(),
      default: [],
      help: "Let browser pages of these origins call the server (CORS); repeatable",
      summary: true,
    }),
    denoPath: option({
      flag: "sandbox-deno",
      kind: text("<path>", "the path of a Deno binary"),
      default: { text: "this Deno", of: ({ machine }) => machine.denoPath() },
      help: "The Deno binary sandboxes run on",
    }),
    poolSize: option({
      flag: "pool-size",
      kind: count(0),
      default: 2,
      help: "TypeScript/JavaScript sandbox hosts kept ready",
      summary: true,
    }),
    pythonPoolSize: optional<number>({
      flag: "python-pool-size",
      kind: count(0),
      unset: `${LAZY_PYTHON_POOL_SIZE}, started by the first Python program`,
      help: "Python sandbox hosts kept ready; given, they start with the server",
      summary: "on first use",
    }),
    heapMb: option({
      flag: "heap-mb",
      kind: mebibytes(FLOOR_MB.heap, "a Python host does not start"),
      default: 256,
      help: "V8 heap cap per isolate of a sandbox (a program's JavaScript heap)",
    }),
    hostMaxPrograms: option({
      flag: "host-max-programs",
      kind: count(1),
      default: HOST_MAX_PROGRAMS.deno,
      help: "TypeScript/JavaScript programs one sandbox host runs at once, each in a worker of " +
        "its own; 1 gives every program a process of its own (the strict mode)",
      summary: true,
    }),
    pythonHostMaxPrograms: option({
      flag: "python-host-max-programs",
      kind: count(1),
      default: HOST_MAX_PROGRAMS.python,
      help: "Python programs one sandbox host runs at once (1: the strict mode)",
    }),
    pythonMemoryMb: option({
      flag: "python-memory-mb",
      kind: mebibytes(1),
      default: 512,
      help: "Largest heap of a Python program; MemoryError past it",
    }),
    // Under the default data rlimit alone a host cannot use more: ~765 MiB was the most measured.
    sandboxMemoryMb: option({
      flag: "sandbox-memory-mb",
      kind: mebibytes(FLOOR_MB.sandbox, "its cgroup kills the host before it runs a program"),
      default: 768,
      help: "Memory cap of one TypeScript/JavaScript program: its host's cgroup limit is this " +
        "times its programs (at most the budget)",
    }),
    // ~1.47 GiB was the most a Python host used under the default data rlimit.
    pythonSandboxMemoryMb: option({
      flag: "python-sandbox-memory-mb",
      kind: mebibytes(FLOOR_MB.pythonSandbox, "its cgroup kills the host before it runs a program"),
      default: 1536,
      help: "Memory cap of one Python program (its host's cgroup: this times its programs)",
    }),
    // Every isolate reserves ~520 MiB of address space before it runs anything: the host's
    // realm, its relay, its programs' workers and its spares; and the programs' own memory.
    dataMb: option({
      flag: "data-mb",
      kind: mebibytes(FLOOR_MB.data, "no host runs a program"),
      default: {
        text: "544 MiB per isolate of a full host, plus --sandbox-memory-mb",
        of: ({ value }) =>
          hostIsolates("deno", value("hostMaxPrograms") as number) * ISOLATE_RESERVE_MB +
          (value("sandboxMemoryMb") as number),
      },
      help: "Data rlimit per sandbox host, ArrayBuffers included",
    }),
    // The same isolates, plus each worker's Pyodide memory (its spare's too).
    pythonDataMb: option({
      flag: "python-data-mb",
      kind: mebibytes(FLOOR_MB.pythonData, "Python hosts fail programs"),
      default: {
        // One worker's more: Pyodide's JavaScript side is beside its wasm memory, and a host
        // of one program has no other slack before its MemoryError.
        text: "544 MiB per isolate of a full host, plus --python-memory-mb per worker and one more",
        of: ({ value }) => {
          const programs = value("pythonHostMaxPrograms") as number;
          return hostIsolates("python", programs) * ISOLATE_RESERVE_MB +
            (programs + HOST_SPARES.python + 1) * (value("pythonMemoryMb") as number);
        },
      },
      help: "Data rlimit per Python sandbox host",
    }),
    // Half: every sandbox may reach its cap at once and the machine still has half its memory,
    // for the server, ready hosts and the rest.
    memoryBudgetMb: option({
      flag: "memory-budget-mb",
      kind: mebibytes(1),
      default: {
        text: "half the memory available at start",
        of: ({ machine }) => Math.floor(machine.availableMemoryBytes() / 2 / MiB),
      },
      help: "Memory all sandboxes may hold together, counted as measured (a program is charged " +
        "what one is expected to use until it is); over it requests wait, then 503",
    }),
    // Memory decides how many programs run, not a fixed count: as many as the budget holds at
    // what a TypeScript program is charged.
    maxConcurrent: option({
      flag: "max-concurrent",
      kind: count(1),
      default: {
        text: "the memory budget over what a TypeScript program is charged (10 MiB)",
        of: ({ value }) =>
          Math.max(
            1,
            Math.floor((value("memoryBudgetMb") as number) * MiB / programCharge({}, "typescript")),
          ),
      },
      help: "Executions running at once",
      summary: true,
    }),
    cgroups: option({
      flag: "cgroups",
      kind: oneOf(["auto", "off"] as const),
      default: "auto",
      help: "A memory cgroup per sandbox where possible, or the data rlimit only",
    }),
    queueTimeoutMs: option({
      flag: "queue-timeout",
      kind: duration({ min: 0 }),
      default: 10 * SECOND,
      help: "How long a request waits for a free slot before 503",
    }),
    maxBodyBytes: option({
      flag: "max-body-bytes",
      kind: bytes(
        JSON.stringify(SMALLEST_REQUEST).length,
        `no request fits: ${JSON.stringify(SMALLEST_REQUEST)} is the smallest`,
      ),
      default: 10 * MiB,
      help: "Largest request body",
    }),
    maxProgramBytes: option({
      flag: "max-program-bytes",
      kind: bytes(1),
      default: MiB,
      help: "Largest program (code and modules, UTF-8)",
    }),
    maxOutputBytes: option({
      flag: "max-output-bytes",
      kind: bytes(1),
      default: 4 * MiB,
      help: "Output kept per execution, then truncated",
    }),
    maxBufferedBytes: option({
      flag: "max-buffered-bytes",
      kind: bytes(1),
      default: 16 * MiB,
      help: "Event stream bytes held for a client that does not read, its last frame " +
        "included; past it the execution is stopped",
    }),
    unreadStreamTimeoutMs: option({
      flag: "unread-stream-timeout",
      kind: duration({ min: 1 }),
      default: 30 * SECOND,
      help: "How long an ended execution's event stream may stay unread before its " +
        "connection is closed",
    }),
    maxStepAnswerBytes: option({
      flag: "max-step-answer-bytes",
      kind: bytes(1),
      default: 16 * MiB,
      help: "JSON of the tool calls of one step answer; a call past it fails in the program",
    }),
    // Each holder is bounded (a stream, an execution's output, a step's answer); this bounds
    // them all together.
    maxHeldBytes: option({
      flag: "max-held-bytes",
      kind: bytes(1),
      default: {
        text: "an eighth of the memory available at start",
        of: ({ machine }) => Math.floor(machine.availableMemoryBytes() / 8),
      },
      help: "Bytes held for all clients together (unsent frames, kept output, step answers); " +
        "past it output is cut short, a stream's execution stopped, a step's call failed",
    }),
    maxToolCalls: option({
      flag: "max-tool-calls",
      kind: count(1),
      default: 1000,
      help: "Tool calls per execution",
    }),
    maxToolArgsBytes: option({
      flag: "max-tool-args-bytes",
      kind: bytes(1),
      default: MiB,
      help: "JSON arguments per tool call",
    }),
    maxToolResultBytes: option({
      flag: "max-tool-result-bytes",
      kind: bytes(1),
      default: 4 * MiB,
      help: "JSON result per tool call",
    }),
  }),
  ...section("step", {
    stateSecret: option({
      flag: "state-secret",
      kind: secret("<secret>"),
      default: { text: "derived from the API key", of: ({ value }) => value("apiKey") as string },
      help: "Key that signs state tokens; servers sharing it accept each other's tokens",
      summary: "derived from the API key",
    }),
    maxStateBytes: option({
      flag: "max-state-bytes",
      kind: bytes(1),
      default: 4 * MiB,
      help: "Largest step state, in bytes of JSON, issued or accepted (its token is at most " +
        "~4/3 of it)",
    }),
    stateMaxAgeMs: option({
      flag: "state-max-age",
      kind: duration({ min: 1, max: 366 * 86_400 * SECOND }),
      default: 7 * 86_400 * SECOND,
      help: "How long a state token stays valid (not a timer: up to a year)",
    }),
    warmResumeTtlMs: option({
      flag: "warm-resume-ttl",
      kind: duration({ min: 0 }),
      default: 60 * SECOND,
      help: "How long a paused execution is held to resume without replay; 0 always replays",
    }),
    maxPaused: option({
      flag: "max-paused",
      kind: count(0),
      default: 32,
      help: "Paused executions held at once",
    }),
  }),
  ...section("sessions", {
    maxSessions: option({
      flag: "max-sessions",
      kind: count(0),
      default: 256,
      help: "Sessions open at once (each keeps its realm, and its memory, between programs); " +
        "0: no sessions",
    }),
    sessionIdleTimeoutMs: option({
      flag: "session-idle-timeout",
      kind: duration({ min: 1 }),
      default: 300 * SECOND,
      help: "How long a session waits for its next program before it ends",
    }),
    maxSessionPrograms: option({
      flag: "max-session-programs",
      kind: count(1, 10_000),
      default: 64,
      help: "Programs a step API session may run (its state records each; rebuilding it on " +
        "another instance replays them all)",
    }),
  }),
  ...section("hosts", {
    hostMaxRuns: option({
      flag: "host-max-runs",
      kind: count(1),
      default: 1000,
      help: "Programs per host before it is retired; 1: a new process for every program",
    }),
    hostMaxAgeMs: option({
      flag: "host-max-age",
      kind: duration({ min: 1 }),
      default: 600 * SECOND,
      help: "Age after which a host takes no more programs",
    }),
    // Ready hosts beyond what the pool needs (its size, or the demand of the last minute if
    // higher) are retired after this long unused.
    hostIdleTimeoutMs: option({
      flag: "host-idle-timeout",
      kind: duration({ min: 1 }),
      default: 60 * SECOND,
      help: "How long an unneeded ready host waits before it is retired",
    }),
    maxHosts: option({
      flag: "max-hosts",
      kind: count(1),
      default: {
        text: "enough for max-concurrent + max-paused + max-sessions programs, and two more",
        // Paused step executions and idle sessions hold a slot of a host without an execution slot.
        of: ({ value }) =>
          Math.ceil(
            ((value("maxConcurrent") as number) + (value("maxPaused") as number) +
              (value("maxSessions") as number)) /
              Math.min(
                value("hostMaxPrograms") as number,
                value("pythonHostMaxPrograms") as number,
              ),
          ) + 2,
      },
      help: "Sandbox hosts per language at once",
    }),
  }),
  ...section("code", {
    readyTimeoutMs: option({
      kind: duration({ min: 1 }),
      default: 20 * SECOND,
      help: "How long a sandbox host may take to become ready",
    }),
    maxLineLength: option({
      kind: count(1),
      default: {
        text: "what the largest tool call's arguments need",
        of: ({ value }) => maxLineLength(value("maxToolArgsBytes") as number),
      },
      help: "Longest protocol line accepted from a sandbox, in characters",
    }),
  }),
};

/** An option's key. */
export type OptionKey = keyof OptionValues;

/** The table's type: each option's spec, from its resolved value's type. */
export type OptionTable = {
  readonly [K in OptionKey]: GroupedSpec<NonNullable<OptionValues[K]>, OptionValues[K]>;
};

/** The keys, in the table's order. */
export const OPTION_KEYS: readonly OptionKey[] = Object.keys(OPTIONS) as OptionKey[];

/** The spec of an option, untyped (for code that walks the table). */
export function specOf(key: OptionKey): GroupedSpec<unknown, unknown> {
  return OPTIONS[key] as unknown as GroupedSpec<unknown, unknown>;
}
