/**
 * What the server answers, checked before the client trusts it: a frame of the
 * `/execute-code` event stream, and an `/execute-code-step` answer. Anything else is a
 * {@linkcode ProgtcProtocolError}.
 *
 * @module
 */
import type {
  ExecuteCodeFrame,
  ExecuteCodeResult,
  ExecuteCodeStepResult,
  OutputFrame,
  ToolCall,
} from "../protocol.ts";
import { ProgtcProtocolError } from "./errors.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** One event's data as a frame: a tool call, output, or the result. */
export function parseFrame(data: string): ExecuteCodeFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    throw new ProgtcProtocolError(`The server sent a frame that is not JSON: ${data.slice(0, 80)}`);
  }
  if (isRecord(frame)) {
    switch (frame.type) {
      case "tool_call":
        if (
          typeof frame.id === "string" && typeof frame.execution_id === "string" &&
          typeof frame.tool_name === "string" && Array.isArray(frame.args) &&
          isRecord(frame.kwargs)
        ) return frame as unknown as ToolCall;
        break;
      case "stdout":
      case "stderr":
        if (typeof frame.data === "string") return frame as unknown as OutputFrame;
        break;
      case "success":
      case "syntax_error":
      case "runtime_error":
      case "timeout_error":
        if (typeof frame.stdout === "string" && typeof frame.stderr === "string") {
          return frame as unknown as ExecuteCodeResult;
        }
        break;
    }
  }
  throw new ProgtcProtocolError(`The server sent an unknown frame: ${data.slice(0, 80)}`);
}

/** A step's answer: its batch of tool calls and state, or how the program ended. */
export function parseStepResult(value: unknown): ExecuteCodeStepResult {
  if (isRecord(value)) {
    if (value.type === "tool_call") {
      if (
        typeof value.state === "string" && Array.isArray(value.tool_calls) &&
        value.tool_calls.every((call) => {
          try {
            return parseFrame(JSON.stringify(call)).type === "tool_call";
          } catch {
            return false;
          }
        })
      ) return value as unknown as ExecuteCodeStepResult;
    } else if (
      ["success", "syntax_error", "runtime_error", "timeout_error", "determinism_error"].includes(
        String(value.type),
      ) && typeof value.stdout === "string" && typeof value.stderr === "string"
    ) return value as unknown as ExecuteCodeStepResult;
  }
  throw new ProgtcProtocolError(
    `The server sent an unknown step answer: ${JSON.stringify(value).slice(0, 80)}`,
  );
}
