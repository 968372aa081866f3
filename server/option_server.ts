/**
 * The options of the `serve` section that concern the server itself: where it listens, its key,
 * a program's timeouts, the default language, the log's format, and its connections (their cap,
 * their timeouts, the drain, CORS).
 *
 * @module
 */
import { LANGUAGES } from "../protocol.ts";
import { LOG_FORMATS } from "./log.ts";
import {
  count,
  duration,
  oneOf,
  OptionError,
  origins,
  secret,
  text,
  whole,
} from "./option_kinds.ts";
import { option } from "./option_spec.ts";
import type { OptionSpecs } from "./option_table.ts";

const SECOND = 1000;

/** The server's own options: its address and key, a program's timeouts, its connections. */
export const SERVER_OPTIONS: OptionSpecs<
  | "host"
  | "port"
  | "apiKey"
  | "toolCallTimeoutMs"
  | "codeExecutionTimeoutMs"
  | "language"
  | "logFormat"
  | "maxConnections"
  | "headerTimeoutMs"
  | "idleTimeoutMs"
  | "bodyTimeoutMs"
  | "drainTimeoutMs"
  | "corsOrigins"
> = {
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
    help: "How long a program may run before it is stopped (timeout_error), counted from when " +
      "a sandbox worker takes it; it waits at most as long for one",
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
};
