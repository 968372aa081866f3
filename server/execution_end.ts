/**
 * How an execution ends: for each event that ends a program (its end message, a violation, its
 * worker failing, out of memory, its process gone) and for the execution timeout, the end type,
 * the error its stderr ends with, the reason, and the value the program returned.
 *
 * An error's text is kept up to {@linkcode MAX_ERROR_BYTES}; a return value over
 * `maxToolArgsBytes` (UTF-8 bytes of its JSON) ends the program as a `runtime_error`.
 *
 * @module
 */
import type { JsonValue } from "../protocol.ts";
import type { SandboxEvent, SandboxExit } from "../runner/sandbox.ts";
import type { RunRequest } from "../sandbox/messages.ts";
import { MAX_ERROR_BYTES } from "../sandbox/program_messages.ts";
import { clipText } from "../sandbox/text.ts";
import { utf8Length } from "./utf8_length.ts";
import type { EndReason } from "./end_reason.ts";
import { languageHint } from "./hints.ts";
import type { Limits } from "./limits.ts";

/** How an execution ended. */
export type EndType =
  | "success"
  | "syntax_error"
  | "runtime_error"
  | "timeout_error"
  | "determinism_error";

/** The terminal result of an execution. */
export interface ExecutionEnd {
  type: EndType;
  stdout: string;
  stderr: string;
  /** The program's return value (success, when the run asked for it and there was one). */
  value?: JsonValue;
}

/** A sandbox event that ends its execution. */
export type EndEvent = Exclude<SandboxEvent, { type: "started" | "tool_call" | "output" | "idle" }>;

/** How an execution ends: its type, the error its stderr ends with, why, and its value. */
export interface Ending {
  type: EndType;
  error: string;
  reason: EndReason;
  value?: JsonValue;
}

/** What an event's ending depends on: the run (absent before it started) and the limits. */
export interface EndingContext {
  run: RunRequest | undefined;
  /** The run asked for the program's return value. */
  wantsValue: boolean;
  limits: Limits;
}

/** How `event` ends its execution. */
export function endingOf(event: EndEvent, context: EndingContext): Ending {
  const { run, wantsValue, limits } = context;
  switch (event.type) {
    case "success": {
      if (!("value" in event) || !wantsValue) {
        return { type: "success", error: "", reason: { code: "success" } };
      }
      const bytes = utf8Length(JSON.stringify(event.value) ?? "null");
      if (bytes > limits.maxToolArgsBytes) {
        const limit = limits.maxToolArgsBytes;
        return {
          type: "runtime_error",
          error:
            `Error: the program's return value exceeds the limit of ${limit} bytes of JSON (${bytes} bytes)\n`,
          reason: { code: "return_value_over_limit" },
        };
      }
      return {
        type: "success",
        error: "",
        reason: { code: "success" },
        value: event.value as JsonValue,
      };
    }
    case "syntax_error": {
      // Python sent as TypeScript (or the reverse) fails to parse: say so.
      const hint = run ? languageHint(run.code, run.language) ?? "" : "";
      return {
        type: event.type,
        error: clipError(event.error) + hint,
        reason: { code: event.type },
      };
    }
    case "runtime_error":
    case "determinism_error":
      return { type: event.type, error: clipError(event.error), reason: { code: event.type } };
    case "exit":
      return event.code === 0
        ? { type: "success", error: "", reason: { code: "exit", exitCode: 0 } }
        : {
          type: "runtime_error",
          error: `Error: the program exited with code ${event.code}\n`,
          reason: { code: "exit", exitCode: event.code },
        };
    case "violation":
      return {
        type: "runtime_error",
        error: `Error: the sandbox was stopped because it broke the protocol (${event.detail})\n`,
        reason: { code: "violation" },
      };
    case "out_of_memory":
      return {
        type: "runtime_error",
        error: `${event.error}\n`,
        reason: { code: "out_of_memory" },
      };
    case "worker_error": {
      const error = clipError(event.error);
      return {
        type: "runtime_error",
        error: `Error: the program's worker failed: ${error}\n`,
        reason: { code: "worker_error", detail: error },
      };
    }
    case "exited":
      return exitedEnding(event);
  }
}

/** The program did not finish within the execution timeout. */
export function timeoutEnding(limits: Limits, started: boolean): Ending {
  const seconds = limits.executionTimeoutMs / 1000;
  if (!started) {
    return {
      type: "timeout_error",
      error:
        `TimeoutError: the program did not start: no sandbox worker took it within ${seconds} s\n`,
      reason: { code: "start_timeout" },
    };
  }
  return {
    type: "timeout_error",
    error: `TimeoutError: the program did not finish within ${seconds} s\n`,
    reason: { code: "timeout" },
  };
}

function exitedEnding(exit: SandboxExit): Ending {
  // Programs share a host process: what ended it ended them all, whichever caused it.
  const others = exit.programs > 1 ? ` (with the ${exit.programs - 1} other programs it ran)` : "";
  if (exit.outOfMemory) {
    return {
      type: "runtime_error",
      error: others
        ? `RangeError: the sandbox process ran out of memory and was stopped${others}\n`
        : "RangeError: the program exceeded its memory limit and was stopped\n",
      reason: { code: "out_of_memory" },
    };
  }
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  // The runtime's own stderr names host paths: it goes to the server log, not the client.
  const last = exit.stderr.trim().split("\n").at(-1)?.slice(0, 200) ?? "";
  return {
    type: "runtime_error",
    error: `Error: the sandbox stopped unexpectedly (${how})${others}\n`,
    reason: { code: "crashed", how, detail: last },
  };
}

/** An error's text as the server keeps it: at most {@linkcode MAX_ERROR_BYTES}. */
function clipError(text: string): string {
  return clipText(text, MAX_ERROR_BYTES, "\n[progtc: error text truncated]\n");
}
