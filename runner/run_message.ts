/**
 * The `run` message the server sends a host for a program: its code, tools and language, the
 * `"tools"` imports found in it, and the limits the sandbox applies to it.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import type { RunRequest } from "../sandbox/messages.ts";
import { scanImports } from "./tools_specifiers.ts";

/** Limits the sandbox applies to one program. */
export interface ProgramLimits {
  maxOutputBytes: number;
  /** The arguments and return value limit (for the sandbox's messages; the server enforces it). */
  maxToolArgsBytes: number;
  /** The longest line the server reads from a host, in UTF-16 units. */
  maxLineLength: number;
  /** What a program's calls sent and not answered yet may take, in UTF-16 units of their lines. */
  maxPendingCallChars: number;
  /** Largest Python heap (Pyodide's wasm memory), in bytes. */
  pythonMemoryBytes: number;
}

/** Builds the `run` message for a program. */
export function runMessage(
  language: Language,
  code: string,
  toolNames: string[],
  options: ProgramLimits & {
    reportIdle: boolean;
    returnValue?: boolean | undefined;
    modules?: Record<string, string> | undefined;
    session?: boolean | undefined;
  },
): RunRequest {
  return {
    type: "run",
    code,
    language,
    toolNames,
    ...(language === "python" ? { toolsSpecifiers: [], nodeModules: false } : scanImports(code)),
    maxOutputBytes: options.maxOutputBytes,
    maxToolArgsBytes: options.maxToolArgsBytes,
    maxLineLength: options.maxLineLength,
    maxPendingCallChars: options.maxPendingCallChars,
    reportIdle: options.reportIdle,
    returnValue: options.returnValue === true,
    ...(language === "python" ? { maxMemoryBytes: options.pythonMemoryBytes } : {}),
    ...(options.modules && Object.keys(options.modules).length > 0
      ? { modules: options.modules }
      : {}),
    ...(options.session ? { session: true } : {}),
  };
}
