/**
 * The server's log: leveled records written as text or as one JSON object per line.
 *
 * Levels map to the console method of the same name (`console.info`, `console.warn`,
 * `console.error`), so Deno's OpenTelemetry exporter (`OTEL_DENO=true`) exports each record
 * with its severity instead of everything as ERROR.
 *
 * @module
 */

/** The severity of a log record. */
export type LogLevel = "info" | "warn" | "error";

/** How records are written: a readable line, or one JSON object per line. */
export type LogFormat = "text" | "json";

/** The formats {@linkcode createLogger} knows, for parsing flags. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Structured fields of a record (JSON output only; the text line already says them). */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where the server writes what happens. */
export interface Logger {
  /** Something normal happened: an execution ended, the server started. */
  info(message: string, fields?: LogFields): void;
  /** Something an operator may act on: a refused request, a setting to reconsider. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed: a sandbox that did not start, an internal error. */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * Text lines or JSON objects.
   * @default {"text"}
   */
  format?: LogFormat;
  /**
   * Where each line goes.
   * @default {console.info, console.warn or console.error, by level}
   */
  write?: (line: string, level: LogLevel) => void;
}

function consoleWrite(line: string, level: LogLevel): void {
  console[level](line);
}

/**
 * Creates a logger. Text: the message alone (by default info goes to stdout, warnings and
 * errors to stderr). JSON: `{"time","level","msg",...fields}` on one line.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger({ format: "json", write: (line) => lines.push(line) });
 * log.info("execution ended", { outcome: "success" });
 * console.assert(JSON.parse(lines[0]!).outcome === "success");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? consoleWrite;
  const json = options.format === "json";
  const record = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (!json) return write(message, level);
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    write(
      JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...defined }),
      level,
    );
  };
  return { info: record("info"), warn: record("warn"), error: record("error") };
}

/** A logger that drops everything (tests of a single service). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
