/**
 * Server options and their defaults.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import type { Runner, RunnerOptions } from "../runner/runner.ts";
import { availableMemory } from "../runner/cgroups.ts";
import { terminalFrameBytes } from "./limits.ts";
import { createLogger, type LogFormat, type Logger } from "./log.ts";

/** Options of {@linkcode createApp} and `serve()`. Limits are safe by default. */
export interface AppOptions extends RunnerOptions {
  /** The API key clients must present. Required: there is no built-in default. */
  apiKey: string;
  /**
   * Seconds a tool call may take before the program sees a TimeoutError.
   * @default {10}
   */
  toolCallTimeout?: number;
  /**
   * Seconds a program may run before it is stopped with `timeout_error`.
   * @default {30}
   */
  codeExecutionTimeout?: number;
  /**
   * The language of requests that name none.
   * @default {"typescript"}
   */
  language?: Language;
  /**
   * Largest request body, in bytes.
   * @default {10 MiB}
   */
  maxBodyBytes?: number;
  /**
   * Seconds a request body may take to arrive; a slower one is `408 body_timeout`.
   * @default {30}
   */
  bodyTimeout?: number;
  /**
   * Largest program, in bytes of UTF-8: its code and its `modules` together; a larger one is
   * refused with `413 program_too_large`.
   * @default {1 MiB}
   */
  maxProgramBytes?: number;
  /**
   * Bytes of stdout and stderr kept per execution; the rest is dropped with a marker.
   * @default {4 MiB}
   */
  maxOutputBytes?: number;
  /**
   * Tool calls per execution; later calls fail inside the program.
   * @default {1000}
   */
  maxToolCalls?: number;
  /**
   * Bytes of JSON arguments per tool call.
   * @default {1 MiB}
   */
  maxToolArgsBytes?: number;
  /**
   * Largest heap of a Python program (Pyodide's wasm memory), in MiB; past it the program gets
   * a MemoryError.
   * @default {512}
   */
  pythonMemoryMb?: number;
  /**
   * Bytes of JSON per tool result; a larger result fails the call inside the program.
   * @default {4 MiB}
   */
  maxToolResultBytes?: number;
  /**
   * Bytes an event stream may hold for a client that does not read, its terminal frame
   * included; past that the execution is stopped. It must leave room for a terminal frame (the
   * output limit, the return value limit and an error's 64 KiB) and 64 KiB more.
   * @default {16 MiB}
   */
  maxBufferedBytes?: number;
  /**
   * Seconds an event stream may stay unread after its execution ended; then it is cut (its
   * connection closes) and what it held is freed.
   * @default {30}
   */
  unreadStreamTimeout?: number;
  /**
   * Bytes of JSON of the tool calls of one step answer: a call that would take a batch past it
   * fails in the program with `ToolError` (and is recorded so, for replays).
   * @default {16 MiB}
   */
  maxStepAnswerBytes?: number;
  /**
   * Bytes the server holds for all its clients together: frames event streams have not sent,
   * output kept for terminal frames, tool calls of step answers. Past it, output is cut with a
   * marker, a stream's execution is stopped, a step's call fails with `ToolError`.
   * @default {an eighth of the memory available at start}
   */
  maxHeldBytes?: number;
  /**
   * Executions running at once.
   * @default {64}
   */
  maxConcurrent?: number;
  /**
   * Memory that running and paused sandboxes may hold together, in MiB: each is counted at its
   * cap (`sandboxMemoryMb`, `pythonSandboxMemoryMb`). Over it, a request waits (paused step
   * executions are dropped first), then gets `503 over_capacity`.
   * @default {half the memory available at start}
   */
  memoryBudgetMb?: number;
  /**
   * Milliseconds a request waits for a free execution slot before a 503.
   * @default {10000}
   */
  queueTimeoutMs?: number;
  /**
   * Secret that signs step-API state tokens. Servers sharing it accept each other's tokens.
   * @default {derived from the API key}
   */
  stateSecret?: string;
  /**
   * Largest step-API state, in bytes of JSON, issued or accepted (a token is at most ~4/3 of
   * it, see `maxTokenLength`); a program whose state would be larger ends with an error.
   * @default {4 MiB}
   */
  maxStateBytes?: number;
  /**
   * Seconds a step-API state token stays valid.
   * @default {604800 (7 days)}
   */
  stateMaxAge?: number;
  /**
   * Seconds a paused step execution is held for a warm resume; 0 always replays.
   * @default {60}
   */
  warmResumeTtl?: number;
  /**
   * Paused step executions held at once for a warm resume.
   * @default {32}
   */
  maxPaused?: number;
  /**
   * Which APIs to serve: `"stream"` (`/execute-code`, `/tool-results`) and `"step"`
   * (`/execute-code-step`). A host that runs one request per invocation serves `["step"]`.
   * @default {["stream", "step"]}
   */
  endpoints?: ("stream" | "step")[];
  /**
   * A runner to use instead of creating one (the app then does not close it).
   * @ignore
   */
  runner?: Runner;
  /**
   * Where log lines go (each execution, step and refused request, and what went wrong), in
   * `logFormat`.
   * @default {console.info, console.warn or console.error, by level}
   */
  log?: (line: string) => void;
  /**
   * Log lines as text or as one JSON object per line.
   * @default {"text"}
   */
  logFormat?: LogFormat;
  /**
   * Origins (`https://app.example`) whose browser pages may call the server (CORS); none when
   * empty.
   * @default {[]}
   */
  corsOrigins?: string[];
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  apiKey: string;
  toolCallTimeoutMs: number;
  executionTimeoutMs: number;
  language: Language;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  maxProgramBytes: number;
  maxOutputBytes: number;
  maxToolCalls: number;
  maxToolArgsBytes: number;
  maxToolResultBytes: number;
  pythonMemoryBytes: number;
  maxBufferedBytes: number;
  unreadStreamTimeoutMs: number;
  maxStepAnswerBytes: number;
  maxHeldBytes: number;
  maxConcurrent: number;
  queueTimeoutMs: number;
  stateSecret: string;
  maxStateBytes: number;
  stateMaxAgeMs: number;
  warmResumeTtlMs: number;
  maxPaused: number;
  logger: Logger;
}

const MiB = 1024 * 1024;

/** Fills in defaults and checks ranges. */
export function resolveOptions(options: AppOptions): ResolvedOptions {
  if (typeof options.apiKey !== "string" || options.apiKey.length === 0) {
    throw new TypeError("Cannot create the server: an API key is required");
  }
  const resolved: ResolvedOptions = {
    apiKey: options.apiKey,
    toolCallTimeoutMs: (options.toolCallTimeout ?? 10) * 1000,
    executionTimeoutMs: (options.codeExecutionTimeout ?? 30) * 1000,
    language: options.language ?? "typescript",
    maxBodyBytes: options.maxBodyBytes ?? 10 * MiB,
    bodyTimeoutMs: (options.bodyTimeout ?? 30) * 1000,
    maxProgramBytes: options.maxProgramBytes ?? MiB,
    maxOutputBytes: options.maxOutputBytes ?? 4 * MiB,
    maxToolCalls: options.maxToolCalls ?? 1000,
    maxToolArgsBytes: options.maxToolArgsBytes ?? MiB,
    maxToolResultBytes: options.maxToolResultBytes ?? 4 * MiB,
    pythonMemoryBytes: (options.pythonMemoryMb ?? 512) * MiB,
    maxBufferedBytes: options.maxBufferedBytes ?? 16 * MiB,
    unreadStreamTimeoutMs: (options.unreadStreamTimeout ?? 30) * 1000,
    maxStepAnswerBytes: options.maxStepAnswerBytes ?? 16 * MiB,
    maxHeldBytes: options.maxHeldBytes ?? Math.floor(availableMemory() / 8),
    maxConcurrent: options.maxConcurrent ?? 64,
    queueTimeoutMs: options.queueTimeoutMs ?? 10_000,
    stateSecret: options.stateSecret || options.apiKey,
    maxStateBytes: options.maxStateBytes ?? 4 * MiB,
    stateMaxAgeMs: (options.stateMaxAge ?? 7 * 24 * 3600) * 1000,
    warmResumeTtlMs: (options.warmResumeTtl ?? 60) * 1000,
    maxPaused: options.maxPaused ?? 32,
    logger: loggerOf(options),
  };
  const zeroAllowed = new Set(["queueTimeoutMs", "warmResumeTtlMs", "maxPaused"]);
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value !== "number") continue;
    const ok = value > 0 || (value === 0 && zeroAllowed.has(name));
    if (!ok || !Number.isFinite(value)) {
      throw new RangeError(`Cannot create the server: ${name} must be a positive number`);
    }
  }
  const terminal = terminalFrameBytes(resolved);
  if (resolved.maxBufferedBytes < terminal + 64 * 1024) {
    throw new RangeError(
      `Cannot create the server: maxBufferedBytes (${resolved.maxBufferedBytes}) must leave room ` +
        `for a terminal frame (${terminal} bytes with maxOutputBytes and maxToolArgsBytes) and 64 KiB more`,
    );
  }
  return resolved;
}

/** The logger of these options: `log` as the sink, if given, in `logFormat`. */
export function loggerOf(options: Pick<AppOptions, "log" | "logFormat">): Logger {
  const write = options.log;
  return createLogger({
    ...(options.logFormat ? { format: options.logFormat } : {}),
    ...(write ? { write: (line: string) => write(line) } : {}),
  });
}
