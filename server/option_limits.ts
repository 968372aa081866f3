/**
 * The options of the `serve` section that bound what one execution may send and hold: its
 * request body, program, output, unread event stream, step answer, tool calls, and the bytes
 * held for all clients together.
 *
 * @module
 */
import { bytes, count, duration } from "./option_kinds.ts";
import { option } from "./option_spec.ts";
import type { OptionSpecs } from "./option_table.ts";

const MiB = 1024 * 1024;
const SECOND = 1000;

/** The smallest request body the server runs (28 bytes): a body limit below it refuses all. */
const SMALLEST_REQUEST = { code: "1", tool_names: [] };

/** The per-execution limits: bytes of a request, a program, its output and its tool calls. */
export const LIMIT_OPTIONS: OptionSpecs<
  | "maxBodyBytes"
  | "maxProgramBytes"
  | "maxOutputBytes"
  | "maxBufferedBytes"
  | "unreadStreamTimeoutMs"
  | "maxStepAnswerBytes"
  | "maxHeldBytes"
  | "maxToolCalls"
  | "maxToolArgsBytes"
  | "maxToolResultBytes"
> = {
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
};
