/**
 * The lines a sandbox host sends the server, `<slot> <JSON>`, each handed to what it is for: a
 * line of slot 0 must be a host message, a line of a running slot a message of that program. A
 * malformed program line ends that program only (a violation), and what a program sends after
 * its end is dropped; a malformed host line, or a line for a slot that is not running, is the
 * host's violation.
 *
 * @module
 */
import type { HostMessage } from "../sandbox/messages.ts";
import type { HostConnection } from "./host_listener.ts";
import { parseHostMessage, parseProgramMessage } from "./host_messages.ts";
import type { Slot } from "./slot.ts";

/** What the lines of a host act on (its `SandboxHost`). */
export interface LineTarget {
  /** The host's slots taken now, by number. */
  readonly slots: ReadonlyMap<number, Slot>;
  /** The memory one program may use, in bytes. */
  readonly programMemoryBytes: number;
  /** The host made worker `number`. */
  worker(number: number): void;
  /** The host is ready; false if it broke the protocol saying so. */
  ready(): boolean;
  /** The worker `number` of slot `slot` was terminated. */
  gone(slot: number, number: number): void;
  /** Kills the host. */
  kill(why: string): void;
  /** The host broke the protocol: every program on it hears so, and it is killed. */
  violation(detail: string): false;
}

/** How long a host whose connection broke may take to be seen exiting, in ms. */
const BROKEN_CONNECTION_MS = 1000;

/**
 * Hands every line of `connection` to `target` until the host is killed for one or the
 * connection ends. A connection that breaks while the process is ending (killed from outside,
 * out of memory) leaves its exit to say what happened; one that breaks while the process lives
 * on a moment later is the host's violation.
 */
export async function serveLines(
  connection: HostConnection,
  target: LineTarget,
  host: { exiting(): boolean; exited: Promise<unknown> },
): Promise<void> {
  try {
    for await (const line of connection.lines) {
      if (!handleLine(line, target)) break;
    }
  } catch (error) {
    if (host.exiting()) return;
    const timer = setTimeout(() => {
      if (!host.exiting()) target.violation(String(error));
    }, BROKEN_CONNECTION_MS);
    host.exited.finally(() => clearTimeout(timer));
  }
}

/** Handles one line; false once the host was killed for it. */
export function handleLine(line: string, target: LineTarget): boolean {
  const space = line.indexOf(" ");
  const slotId = /^\d{1,15} /.test(line) ? Number(line.slice(0, space)) : NaN;
  if (Number.isNaN(slotId)) return target.violation(describe(line));
  const text = line.slice(space + 1);
  if (slotId === 0) {
    const message = parseHostMessage(text);
    if (message === undefined) return target.violation(describe(text));
    return handleHostMessage(message, target);
  }
  const slot = target.slots.get(slotId);
  if (slot === undefined || !slot.started) {
    return target.violation(`a line for program ${slotId}, which is not running`);
  }
  // After its end, nothing of a program counts: its worker is being terminated.
  if (slot.ended) return true;
  const message = parseProgramMessage(text);
  if (message === undefined) {
    slot.emit({ type: "violation", detail: describe(text) });
    return true;
  }
  // A call's line counts against the bound of its program's calls not answered yet.
  slot.program(message.type === "tool_call" ? { ...message, chars: text.length } : message);
  return true;
}

/** Handles one message of the host itself; false once the host was killed for it. */
function handleHostMessage(message: HostMessage, target: LineTarget): boolean {
  const slots = target.slots;
  switch (message.type) {
    case "worker":
      target.worker(message.number);
      return true;
    case "ready":
      return target.ready();
    case "started": {
      const slot = slots.get(message.slot);
      if (slot === undefined || slot.started) {
        return target.violation(`program ${message.slot} started again, or never given`);
      }
      slot.startedIn(message.number);
      return true;
    }
    case "gone":
      target.gone(message.slot, message.number);
      return true;
    case "worker_error":
      slots.get(message.slot)?.emit({ type: "worker_error", error: message.error });
      return true;
    case "violation":
      slots.get(message.slot)?.emit({ type: "violation", detail: message.detail });
      return true;
    case "out_of_memory": {
      const cap = mib(target.programMemoryBytes);
      slots.get(message.slot)?.emit({
        type: "out_of_memory",
        error: `RangeError: the program exceeded its memory limit of ${cap} MiB ` +
          `(it held ${mib(message.bytes)} MiB) and was stopped`,
      });
      return true;
    }
    case "memory":
      for (const [id, bytes] of message.programs) {
        const slot = slots.get(id);
        if (slot) slot.memoryBytes = bytes;
      }
      return true;
    case "failed":
      target.kill(`a worker failed: ${message.error}`);
      return false;
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

function describe(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return `unexpected line from sandbox: ${JSON.stringify(shown)}`;
}
