/**
 * How the server reads a sandbox host's end: its status, its cgroup's word and its stderr's
 * tail make the `SandboxExit` every program still on it hears, and the reason a host that never
 * started gives.
 *
 * Out of memory means the kernel killed it at its cgroup's limit (SIGKILL, and nothing said), or
 * V8 ran out of heap (it traps), or the runtime could not allocate for its one program. Its
 * stderr, which programs can write, decides that last case only, by a strict rule
 * ({@linkcode allocationAborted}).
 *
 * @module
 */
import type { SandboxExit } from "./sandbox.ts";
import type { StderrTail } from "./stderr_tail.ts";

/** The bytes of a host's stderr the server keeps (its end). */
export const STDERR_TAIL = 8 * 1024;
/**
 * What Rust's allocation error handler writes before it aborts the process (SIGABRT), and the
 * note it adds when backtraces are off (as in a host's environment): measured with Deno 2.9.6.
 */
const ALLOCATION_FAILED = /^memory allocation of \d+ bytes failed$/;
const BACKTRACE_NOTE =
  "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace";

/** What the server knew of a host when its process ended. */
export interface HostEnd {
  /** Its cgroup says the kernel killed it at its limit. */
  cgroupOom: boolean;
  /** Programs a host of its kind runs at once. */
  maxPrograms: number;
  /**
   * Programs it was running when it ended, whose executions hear of it (not the slots of programs
   * that had ended, whose workers were still stopping).
   */
  programs: number;
  /** The bytes of stderr read when the latest program was given its slot. */
  stderrBeforeLatest: number;
}

/** The end every program still on a host hears. */
export function hostExit(
  status: Deno.CommandStatus,
  stderr: StderrTail,
  end: HostEnd,
): SandboxExit {
  return {
    type: "exited",
    code: status.code,
    signal: status.signal,
    stderr: stderr.text,
    outOfMemory: end.cgroupOom || status.signal === "SIGTRAP" ||
      allocationAborted(status, stderr, end),
    programs: end.programs,
  };
}

/**
 * Whether the process aborted because the runtime could not allocate for its program (a
 * Blob's bytes past the data rlimit: Rust's handler says so on stderr, then aborts). Believed
 * only of a host of one program, running one, when that line is the last (but for Rust's note
 * on backtraces) and came after the program was given its slot: a program can write the line
 * itself, but then it only names its own end. With several programs per host a neighbour
 * could write it, and a line from before the program (an earlier program on the host) is not
 * its own.
 */
export function allocationAborted(
  status: Deno.CommandStatus,
  stderr: StderrTail,
  end: HostEnd,
): boolean {
  if (status.signal !== "SIGABRT") return false;
  if (end.maxPrograms !== 1 || end.programs !== 1) return false;
  const lines = stderr.lastLines(2);
  if (lines.at(-1)?.text === BACKTRACE_NOTE) lines.pop();
  const line = lines.at(-1);
  return line !== undefined && line.start >= end.stderrBeforeLatest &&
    ALLOCATION_FAILED.test(line.text);
}

/** Why a host that ended did, for one that never started: its last lines of stderr, or its code. */
export function endReason(exit: SandboxExit): string {
  return exit.stderr.trim().split("\n").slice(-3).join("\n") || `exit code ${exit.code}`;
}
