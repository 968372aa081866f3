/**
 * The options of `createApp()` and `serve()` that `progtc serve` also takes as flags and
 * `PROGTC_*` variables. Generated from server/option_table.ts by `deno task options`: edit
 * the table, not this file.
 *
 * @module
 */

/** The server's settings: each one's unit is in its name (`Ms`: milliseconds, `Mb`: MiB). */
export interface Settings {
  /**
   * Address to listen on. Allowed: an address or host name of this machine. Command line:
   * `--host <address>`, or `PROGTC_HOST`.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * Port to listen on; 0 picks a free one. Allowed: a whole number from 0 to 65535. Command line:
   * `--port <port>`, or `PROGTC_PORT`.
   * @default {8000}
   */
  port?: number;
  /**
   * API key clients must send (prefer PROGTC_API_KEY). Allowed: a text that is not empty. Command
   * line: `--api-key <key>`, or `PROGTC_API_KEY`.
   * @default {none (progtc serve generates one and prints it)}
   */
  apiKey?: string;
  /**
   * How long a tool call may take before the program sees a TimeoutError. Allowed: milliseconds
   * from 1 to 2147483647 (about 24.8 days, the longest timer). Command line:
   * `--tool-call-timeout <s>` (in seconds), or `PROGTC_TOOL_CALL_TIMEOUT`.
   * @default {10000}
   */
  toolCallTimeoutMs?: number;
  /**
   * How long a program may run before it is stopped (timeout_error), counted from when a sandbox
   * worker takes it; it waits at most as long for one. Allowed: milliseconds from 1 to 2147483647
   * (about 24.8 days, the longest timer). Command line: `--code-execution-timeout <s>` (in
   * seconds), or `PROGTC_CODE_EXECUTION_TIMEOUT`.
   * @default {30000}
   */
  codeExecutionTimeoutMs?: number;
  /**
   * Language of requests that name none (in the body or an X-Progtc-Language header). Allowed: one
   * of typescript, javascript or python. Command line: `--language <typescript|javascript|python>`,
   * or `PROGTC_LANGUAGE`.
   * @default {"typescript"}
   */
  language?: "typescript" | "javascript" | "python";
  /**
   * Log lines as text, or one JSON object per line. Allowed: text or json. Command line:
   * `--log-format <text|json>`, or `PROGTC_LOG_FORMAT`.
   * @default {"text"}
   */
  logFormat?: "text" | "json";
  /**
   * Connections open at once; at the cap a new one replaces the oldest without a request in
   * progress. Allowed: a whole number of at least 1. Command line: `--max-connections <n>`, or
   * `PROGTC_MAX_CONNECTIONS`.
   * @default {half of ulimit -n, at most 4096}
   */
  maxConnections?: number;
  /**
   * How long a new connection may take to send its headers. Allowed: milliseconds from 1 to
   * 2147483647 (about 24.8 days, the longest timer). Command line: `--header-timeout <s>` (in
   * seconds), or `PROGTC_HEADER_TIMEOUT`.
   * @default {10000}
   */
  headerTimeoutMs?: number;
  /**
   * How long a connection may stay open between requests. Allowed: milliseconds from 1 to
   * 2147483647 (about 24.8 days, the longest timer). Command line: `--idle-timeout <s>` (in
   * seconds), or `PROGTC_IDLE_TIMEOUT`.
   * @default {75000}
   */
  idleTimeoutMs?: number;
  /**
   * How long a request body may take to arrive (else 408 body_timeout). Allowed: milliseconds from
   * 1 to 2147483647 (about 24.8 days, the longest timer). Command line: `--body-timeout <s>` (in
   * seconds), or `PROGTC_BODY_TIMEOUT`.
   * @default {30000}
   */
  bodyTimeoutMs?: number;
  /**
   * On SIGTERM, how long running executions may take to finish before they are ended; 0 ends them
   * at once. Allowed: milliseconds from 0 to 2147483647 (about 24.8 days, the longest timer).
   * Command line: `--drain-timeout <s>` (in seconds), or `PROGTC_DRAIN_TIMEOUT`.
   * @default {25000}
   */
  drainTimeoutMs?: number;
  /**
   * Let browser pages of these origins call the server (CORS); repeatable. Allowed: origins as
   * scheme://host[:port], without a path, comma-separated. Command line: `--cors-origin <origin>`,
   * or `PROGTC_CORS_ORIGIN`.
   * @default {[]}
   */
  corsOrigins?: string[];
  /**
   * The Deno binary sandboxes run on. Allowed: the path of a Deno binary. Command line:
   * `--sandbox-deno <path>`, or `PROGTC_SANDBOX_DENO`.
   * @default {this Deno}
   */
  denoPath?: string;
  /**
   * TypeScript/JavaScript sandbox hosts kept ready. Allowed: a whole number of at least 0. Command
   * line: `--pool-size <n>`, or `PROGTC_POOL_SIZE`.
   * @default {2}
   */
  poolSize?: number;
  /**
   * Python sandbox hosts kept ready; given, they start with the server. Allowed: a whole number of
   * at least 0. Command line: `--python-pool-size <n>`, or `PROGTC_PYTHON_POOL_SIZE`.
   * @default {1, started by the first Python program}
   */
  pythonPoolSize?: number;
  /**
   * V8 heap cap per isolate of a sandbox (a program's JavaScript heap). Allowed: MiB from 32 to
   * 4194304 (below 32, a Python host does not start). Command line: `--heap-mb <MiB>`, or
   * `PROGTC_HEAP_MB`.
   * @default {256}
   */
  heapMb?: number;
  /**
   * TypeScript/JavaScript programs one sandbox host runs at once, each in a worker of its own; 1
   * gives every program a process of its own (the strict mode). Allowed: a whole number of at least
   * 1. Command line: `--host-max-programs <n>`, or `PROGTC_HOST_MAX_PROGRAMS`.
   * @default {64}
   */
  hostMaxPrograms?: number;
  /**
   * Python programs one sandbox host runs at once (1: the strict mode). Allowed: a whole number of
   * at least 1. Command line: `--python-host-max-programs <n>`, or
   * `PROGTC_PYTHON_HOST_MAX_PROGRAMS`.
   * @default {16}
   */
  pythonHostMaxPrograms?: number;
  /**
   * Largest heap of a Python program; MemoryError past it. Allowed: MiB from 1 to 4194304. Command
   * line: `--python-memory-mb <MiB>`, or `PROGTC_PYTHON_MEMORY_MB`.
   * @default {512}
   */
  pythonMemoryMb?: number;
  /**
   * Memory cap of one TypeScript/JavaScript program: its host's cgroup limit is this times its
   * programs (at most the budget). Allowed: MiB from 32 to 4194304 (below 32, its cgroup kills the
   * host before it runs a program). Command line: `--sandbox-memory-mb <MiB>`, or
   * `PROGTC_SANDBOX_MEMORY_MB`.
   * @default {768}
   */
  sandboxMemoryMb?: number;
  /**
   * Memory cap of one Python program (its host's cgroup: this times its programs). Allowed: MiB
   * from 256 to 4194304 (below 256, its cgroup kills the host before it runs a program). Command
   * line: `--python-sandbox-memory-mb <MiB>`, or `PROGTC_PYTHON_SANDBOX_MEMORY_MB`.
   * @default {1536}
   */
  pythonSandboxMemoryMb?: number;
  /**
   * Data rlimit per sandbox host, ArrayBuffers included. Allowed: MiB from 2720 to 4194304 (below
   * 2720, no host runs a program). Command line: `--data-mb <MiB>`, or `PROGTC_DATA_MB`.
   * @default {544 MiB per isolate of a full host, plus --sandbox-memory-mb}
   */
  dataMb?: number;
  /**
   * Data rlimit per Python sandbox host. Allowed: MiB from 2688 to 4194304 (below 2688, Python
   * hosts fail programs). Command line: `--python-data-mb <MiB>`, or `PROGTC_PYTHON_DATA_MB`.
   * @default {544 MiB per isolate of a full host, plus --python-memory-mb per worker and one more}
   */
  pythonDataMb?: number;
  /**
   * Memory all sandboxes may hold together, counted as measured (a program is charged what one is
   * expected to use until it is); over it requests wait, then 503. Allowed: MiB from 1 to 4194304.
   * Command line: `--memory-budget-mb <MiB>`, or `PROGTC_MEMORY_BUDGET_MB`.
   * @default {half the memory available at start}
   */
  memoryBudgetMb?: number;
  /**
   * Executions running at once. Allowed: a whole number of at least 1. Command line:
   * `--max-concurrent <n>`, or `PROGTC_MAX_CONCURRENT`.
   * @default {the memory budget over what a TypeScript program is charged (10 MiB)}
   */
  maxConcurrent?: number;
  /**
   * A memory cgroup per sandbox where possible, or the data rlimit only. Allowed: auto or off.
   * Command line: `--cgroups <auto|off>`, or `PROGTC_CGROUPS`.
   * @default {"auto"}
   */
  cgroups?: "auto" | "off";
  /**
   * How long a request waits for a free slot before 503. Allowed: milliseconds from 0 to 2147483647
   * (about 24.8 days, the longest timer). Command line: `--queue-timeout <s>` (in seconds), or
   * `PROGTC_QUEUE_TIMEOUT`.
   * @default {10000}
   */
  queueTimeoutMs?: number;
  /**
   * Largest request body. Allowed: bytes from 28 to 1099511627776 (below 28, no request fits:
   * {"code":"1","tool_names":[]} is the smallest). Command line: `--max-body-bytes <bytes>`, or
   * `PROGTC_MAX_BODY_BYTES`.
   * @default {10485760 (10 MiB)}
   */
  maxBodyBytes?: number;
  /**
   * Largest program (code and modules, UTF-8). Allowed: bytes from 1 to 1099511627776. Command
   * line: `--max-program-bytes <bytes>`, or `PROGTC_MAX_PROGRAM_BYTES`.
   * @default {1048576 (1 MiB)}
   */
  maxProgramBytes?: number;
  /**
   * Output kept per execution, then truncated. Allowed: bytes from 1 to 1099511627776. Command
   * line: `--max-output-bytes <bytes>`, or `PROGTC_MAX_OUTPUT_BYTES`.
   * @default {4194304 (4 MiB)}
   */
  maxOutputBytes?: number;
  /**
   * Event stream bytes held for a client that does not read, its last frame included; past it the
   * execution is stopped. Allowed: bytes from 1 to 1099511627776. Command line:
   * `--max-buffered-bytes <bytes>`, or `PROGTC_MAX_BUFFERED_BYTES`.
   * @default {16777216 (16 MiB)}
   */
  maxBufferedBytes?: number;
  /**
   * How long an ended execution's event stream may stay unread before its connection is closed.
   * Allowed: milliseconds from 1 to 2147483647 (about 24.8 days, the longest timer). Command line:
   * `--unread-stream-timeout <s>` (in seconds), or `PROGTC_UNREAD_STREAM_TIMEOUT`.
   * @default {30000}
   */
  unreadStreamTimeoutMs?: number;
  /**
   * JSON of the tool calls of one step answer; a call past it fails in the program. Allowed: bytes
   * from 1 to 1099511627776. Command line: `--max-step-answer-bytes <bytes>`, or
   * `PROGTC_MAX_STEP_ANSWER_BYTES`.
   * @default {16777216 (16 MiB)}
   */
  maxStepAnswerBytes?: number;
  /**
   * Bytes held for all clients together (unsent frames, kept output, step answers); past it output
   * is cut short, a stream's execution stopped, a step's call failed. Allowed: bytes from 1 to
   * 1099511627776. Command line: `--max-held-bytes <bytes>`, or `PROGTC_MAX_HELD_BYTES`.
   * @default {an eighth of the memory available at start}
   */
  maxHeldBytes?: number;
  /**
   * Tool calls per execution. Allowed: a whole number of at least 1. Command line:
   * `--max-tool-calls <n>`, or `PROGTC_MAX_TOOL_CALLS`.
   * @default {1000}
   */
  maxToolCalls?: number;
  /**
   * JSON arguments per tool call. Allowed: bytes from 1 to 1099511627776. Command line:
   * `--max-tool-args-bytes <bytes>`, or `PROGTC_MAX_TOOL_ARGS_BYTES`.
   * @default {1048576 (1 MiB)}
   */
  maxToolArgsBytes?: number;
  /**
   * JSON result per tool call. Allowed: bytes from 1 to 1099511627776. Command line:
   * `--max-tool-result-bytes <bytes>`, or `PROGTC_MAX_TOOL_RESULT_BYTES`.
   * @default {4194304 (4 MiB)}
   */
  maxToolResultBytes?: number;
  /**
   * Key that signs state tokens; servers sharing it accept each other's tokens. Allowed: a text
   * that is not empty. Command line: `--state-secret <secret>`, or `PROGTC_STATE_SECRET`.
   * @default {derived from the API key}
   */
  stateSecret?: string;
  /**
   * Largest step state, in bytes of JSON, issued or accepted (its token is at most ~4/3 of it).
   * Allowed: bytes from 1 to 1099511627776. Command line: `--max-state-bytes <bytes>`, or
   * `PROGTC_MAX_STATE_BYTES`.
   * @default {4194304 (4 MiB)}
   */
  maxStateBytes?: number;
  /**
   * How long a state token stays valid (not a timer: up to a year). Allowed: milliseconds from 1 to
   * 31622400000 (about 366 days). Command line: `--state-max-age <s>` (in seconds), or
   * `PROGTC_STATE_MAX_AGE`.
   * @default {604800000}
   */
  stateMaxAgeMs?: number;
  /**
   * How long a paused execution is held to resume without replay; 0 always replays. Allowed:
   * milliseconds from 0 to 2147483647 (about 24.8 days, the longest timer). Command line:
   * `--warm-resume-ttl <s>` (in seconds), or `PROGTC_WARM_RESUME_TTL`.
   * @default {60000}
   */
  warmResumeTtlMs?: number;
  /**
   * Paused executions held at once. Allowed: a whole number of at least 0. Command line:
   * `--max-paused <n>`, or `PROGTC_MAX_PAUSED`.
   * @default {32}
   */
  maxPaused?: number;
  /**
   * Sessions open at once (each keeps its realm, and its memory, between programs); 0: no sessions.
   * Allowed: a whole number of at least 0. Command line: `--max-sessions <n>`, or
   * `PROGTC_MAX_SESSIONS`.
   * @default {256}
   */
  maxSessions?: number;
  /**
   * How long a session waits for its next program before it ends. Allowed: milliseconds from 1 to
   * 2147483647 (about 24.8 days, the longest timer). Command line: `--session-idle-timeout <s>` (in
   * seconds), or `PROGTC_SESSION_IDLE_TIMEOUT`.
   * @default {300000}
   */
  sessionIdleTimeoutMs?: number;
  /**
   * Programs a step API session may run (its state records each; rebuilding it on another instance
   * replays them all). Allowed: a whole number from 1 to 10000. Command line:
   * `--max-session-programs <n>`, or `PROGTC_MAX_SESSION_PROGRAMS`.
   * @default {64}
   */
  maxSessionPrograms?: number;
  /**
   * Programs per host before it is retired; 1: a new process for every program. Allowed: a whole
   * number of at least 1. Command line: `--host-max-runs <n>`, or `PROGTC_HOST_MAX_RUNS`.
   * @default {1000}
   */
  hostMaxRuns?: number;
  /**
   * Age after which a host takes no more programs. Allowed: milliseconds from 1 to 2147483647
   * (about 24.8 days, the longest timer). Command line: `--host-max-age <s>` (in seconds), or
   * `PROGTC_HOST_MAX_AGE`.
   * @default {600000}
   */
  hostMaxAgeMs?: number;
  /**
   * How long an unneeded ready host waits before it is retired. Allowed: milliseconds from 1 to
   * 2147483647 (about 24.8 days, the longest timer). Command line: `--host-idle-timeout <s>` (in
   * seconds), or `PROGTC_HOST_IDLE_TIMEOUT`.
   * @default {60000}
   */
  hostIdleTimeoutMs?: number;
  /**
   * Sandbox hosts per language at once. Allowed: a whole number of at least 1. Command line:
   * `--max-hosts <n>`, or `PROGTC_MAX_HOSTS`.
   * @default {enough for max-concurrent + max-paused + max-sessions programs, and two more}
   */
  maxHosts?: number;
  /**
   * How long a sandbox host may take to become ready. Allowed: milliseconds from 1 to 2147483647
   * (about 24.8 days, the longest timer). Only code sets it.
   * @default {20000}
   */
  readyTimeoutMs?: number;
  /**
   * Longest protocol line accepted from a sandbox, in characters. Allowed: a whole number of at
   * least 1. Only code sets it.
   * @default {what the largest tool call's arguments need}
   */
  maxLineLength?: number;
}

/** Every setting resolved (`resolveOptions`); `undefined` where unset means something. */
export interface OptionValues {
  host: string;
  port: number;
  apiKey: string;
  toolCallTimeoutMs: number;
  codeExecutionTimeoutMs: number;
  language: "typescript" | "javascript" | "python";
  logFormat: "text" | "json";
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  bodyTimeoutMs: number;
  drainTimeoutMs: number;
  corsOrigins: string[];
  denoPath: string;
  poolSize: number;
  pythonPoolSize: number | undefined;
  heapMb: number;
  hostMaxPrograms: number;
  pythonHostMaxPrograms: number;
  pythonMemoryMb: number;
  sandboxMemoryMb: number;
  pythonSandboxMemoryMb: number;
  dataMb: number;
  pythonDataMb: number;
  memoryBudgetMb: number;
  maxConcurrent: number;
  cgroups: "auto" | "off";
  queueTimeoutMs: number;
  maxBodyBytes: number;
  maxProgramBytes: number;
  maxOutputBytes: number;
  maxBufferedBytes: number;
  unreadStreamTimeoutMs: number;
  maxStepAnswerBytes: number;
  maxHeldBytes: number;
  maxToolCalls: number;
  maxToolArgsBytes: number;
  maxToolResultBytes: number;
  stateSecret: string;
  maxStateBytes: number;
  stateMaxAgeMs: number;
  warmResumeTtlMs: number;
  maxPaused: number;
  maxSessions: number;
  sessionIdleTimeoutMs: number;
  maxSessionPrograms: number;
  hostMaxRuns: number;
  hostMaxAgeMs: number;
  hostIdleTimeoutMs: number;
  maxHosts: number;
  readyTimeoutMs: number;
  maxLineLength: number;
}
