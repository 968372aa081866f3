/**
 * Why an execution ended, as a code (for spans, metrics and structured logs) with what the log
 * line says of it. One place says every reason; the terminal frame the client gets is the
 * execution's own (`ExecutionEnd`), not this.
 *
 * @module
 */

/** Why an execution ended. */
export type EndReason =
  /** The program ended by itself: success, or an error of its own. */
  | { code: "success" | "syntax_error" | "runtime_error" | "determinism_error" }
  /** The program exited (`Deno.exit`, `sys.exit`) with `exitCode`. */
  | { code: "exit"; exitCode: number }
  /** Its return value was over the arguments limit. */
  | { code: "return_value_over_limit" }
  /** It broke the protocol (what it was is in the program's stderr). */
  | { code: "violation" }
  /** Its worker died of an error its realm did not catch. */
  | { code: "worker_error"; detail: string }
  /** It held too much memory: its cap, the budget, or its host's cgroup. */
  | { code: "out_of_memory" }
  /** Its host process ended under it: a signal or an exit code, and its stderr's last line. */
  | { code: "crashed"; how: string; detail: string }
  /** It ran past the execution timeout. */
  | { code: "timeout" }
  /** No worker of its host took it within the execution timeout: it never ran. */
  | { code: "start_timeout" }
  /** The server ended it: its client left, the server stops, a paused execution was dropped. */
  | { code: "cancelled"; detail: string }
  /** Its step state would have been over the limit. */
  | { code: "state_too_large" };

/** The code of why an execution ended. */
export type EndCode = EndReason["code"];

/** What the server's log line says of an end: the code, or what it adds. */
export function describeEnd(reason: EndReason): string {
  switch (reason.code) {
    case "exit":
      return reason.exitCode === 0 ? "exit(0)" : "exit";
    case "return_value_over_limit":
      return "return value over the limit";
    case "worker_error":
      return `worker error: ${reason.detail.slice(0, 200)}`;
    case "crashed":
      return `crashed: ${reason.how}${reason.detail ? `: ${reason.detail}` : ""}`;
    case "cancelled":
      return reason.detail;
    case "state_too_large":
      return "state too large";
    case "start_timeout":
      return "no worker took it within the timeout";
    default:
      return reason.code;
  }
}
