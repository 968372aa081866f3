/**
 * The server's side of a sandbox host's messages (`sandbox/messages.ts`, `program_messages.ts`):
 * the lines it writes, and the checks of every line it reads. The host is untrusted: a line that
 * is not a well-formed message is a violation (of the host, for its own lines; of the program,
 * for a program's).
 *
 * @module
 */
import type { HostMessage, ServerMessage } from "../sandbox/messages.ts";
import {
  type EndMessage,
  MAX_FRAME_DEPTH,
  type ProgramMessage,
} from "../sandbox/program_messages.ts";

/**
 * A JSON value kept as its text: a large tool result is parsed off the server's main thread and
 * forwarded to the sandbox (or into a state) as it came, never rebuilt on the main thread.
 */
export class JsonText {
  /** The JSON text. */
  readonly text: string;
  /** Its size in UTF-8 bytes. */
  readonly bytes: number;

  constructor(text: string, bytes: number) {
    this.text = text;
    this.bytes = bytes;
  }
}

/**
 * The JSON text of a value that may be a {@linkcode JsonText} (`undefined` is `null`).
 *
 * @example
 * ```ts
 * import { JsonText, jsonTextOf } from "./host_messages.ts";
 * console.assert(jsonTextOf(new JsonText("[1, 2]", 6)) === "[1, 2]");
 * console.assert(jsonTextOf({ a: 1 }) === '{"a":1}');
 * ```
 */
export function jsonTextOf(value: unknown): string {
  return value instanceof JsonText ? value.text : JSON.stringify(value) ?? "null";
}

/** The JSON of a message to a program (values may be JSON texts), without slot or newline. */
export function encodeServerMessage(message: ServerMessage): string {
  switch (message.type) {
    case "tool_result":
      return `{"type":"tool_result","id":${message.id},"value":${jsonTextOf(message.value)}}`;
    case "tool_error":
      // The id right after the type, where a worker's channel reads it.
      return JSON.stringify({
        type: message.type,
        id: message.id,
        name: message.name,
        message: message.message,
      });
    case "tool_results":
      return `{"type":"tool_results","ids":[${
        message.items.map((item) => item.id).join(",")
      }],"items":[${message.items.map((item) => encodeServerMessage(item)).join(",")}]}`;
    default:
      return JSON.stringify(message);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isSlot = (v: unknown): v is number => isCount(v) && (v as number) > 0;
const isFrame = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length <= MAX_FRAME_DEPTH && v.every(isCount);

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a line of the host itself (slot 0). Returns `undefined` for anything that is not a
 * well-formed host message: the caller treats that as a violation of the host.
 *
 * @example
 * ```ts
 * import { parseHostMessage } from "./host_messages.ts";
 * console.assert(parseHostMessage('{"type":"worker","number":1}')?.type === "worker");
 * console.assert(parseHostMessage('{"type":"success"}') === undefined);
 * ```
 */
export function parseHostMessage(line: string): HostMessage | undefined {
  const m = parseObject(line);
  switch (m?.type) {
    case "worker":
      return isSlot(m.number) ? { type: "worker", number: m.number } : undefined;
    case "ready":
      return { type: "ready" };
    case "started":
    case "gone":
      // `gone` with number 0: a program stopped before any worker took it.
      return isSlot(m.slot) && isCount(m.number) && (m.type === "gone" || m.number > 0)
        ? { type: m.type, slot: m.slot, number: m.number }
        : undefined;
    case "out_of_memory":
      return isSlot(m.slot) && isCount(m.bytes)
        ? { type: "out_of_memory", slot: m.slot, bytes: m.bytes }
        : undefined;
    case "memory":
      return Array.isArray(m.programs) &&
          m.programs.every((p) => Array.isArray(p) && isSlot(p[0]) && isCount(p[1]))
        ? { type: "memory", programs: m.programs as [number, number][] }
        : undefined;
    case "violation":
      return isSlot(m.slot) && typeof m.detail === "string"
        ? { type: "violation", slot: m.slot, detail: m.detail.slice(0, 200) }
        : undefined;
    case "worker_error":
      return isSlot(m.slot) && typeof m.error === "string"
        ? { type: "worker_error", slot: m.slot, error: m.error }
        : undefined;
    case "failed":
      return typeof m.error === "string" ? { type: "failed", error: m.error } : undefined;
    default:
      return undefined;
  }
}

/**
 * Parses one line of a program. Returns `undefined` for anything that is not a well-formed
 * program message: the caller treats that as a violation of that program.
 *
 * @example
 * ```ts
 * import { parseProgramMessage } from "./host_messages.ts";
 * console.assert(parseProgramMessage('{"type":"success"}')?.type === "success");
 * console.assert(parseProgramMessage("hello") === undefined);
 * ```
 */
export function parseProgramMessage(line: string): ProgramMessage | undefined {
  const m = parseObject(line);
  if (m === undefined) return undefined;
  switch (m.type) {
    case "idle":
      return Array.isArray(m.pending) && m.pending.every((id) => Number.isSafeInteger(id))
        ? { type: "idle", pending: m.pending as number[] }
        : undefined;
    case "success":
      return { type: "success", ...("value" in m ? { value: m.value } : {}) };
    case "tool_call":
      return Number.isSafeInteger(m.id) && typeof m.name === "string" && Array.isArray(m.args) &&
          isRecord(m.kwargs) && isFrame(m.frame) && isCount(m.index)
        ? {
          type: "tool_call",
          id: m.id as number,
          name: m.name,
          args: m.args,
          kwargs: m.kwargs,
          frame: m.frame,
          index: m.index,
        }
        : undefined;
    case "output":
      return (m.stream === "stdout" || m.stream === "stderr") && typeof m.data === "string"
        ? { type: "output", stream: m.stream, data: m.data }
        : undefined;
    case "syntax_error":
    case "runtime_error":
    case "determinism_error":
      return typeof m.error === "string" ? { type: m.type, error: m.error } : undefined;
    case "exit":
      return Number.isSafeInteger(m.code) ? { type: "exit", code: m.code as number } : undefined;
    default:
      return undefined;
  }
}

/** Whether a program message ends the program. */
export function isEndMessage(message: ProgramMessage): message is EndMessage {
  return message.type !== "tool_call" && message.type !== "output" && message.type !== "idle";
}
