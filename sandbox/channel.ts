// deno-lint-ignore-file no-explicit-any
/**
 * A program's channel as its worker sees it: the private `MessagePort` to its host's realm,
 * which alone holds the connection to the server. What every sandbox kind needs of it lives
 * here once: lines kept within the server's bound, tool calls within the bound of those not
 * answered yet (`pending_calls.ts`), output forwarded up to its limit (counted as the server
 * counts it), one end, then `done`.
 *
 * Runs in the untrusted sandbox host, in the program's own realm: {@linkcode openChannel} is
 * serialised with `Function.prototype.toString` into the worker's blob source, so it uses
 * nothing from this module's scope. It captures what it needs before the program runs, so a
 * program that replaces `JSON`, `MessagePort.prototype.postMessage` or array methods does not
 * change it. Imports types only.
 *
 * @module
 */
import type { HostToWorker, WorkerSignal } from "./worker_messages.ts";
import type { pendingCalls } from "./pending_calls.ts";

/** The helpers of the realm the channel needs (from `text.ts` and `pending_calls.ts`). */
export interface ChannelText {
  splitText(text: string, maxUnits: number): string[];
  jsonLength(text: string): number;
  utf8Length(text: string): number;
  pendingCalls: typeof pendingCalls;
}

/** A program's end of its channel. */
export interface Channel {
  /**
   * Limits from the run message: the line bound, output forwarded before only counting, and
   * what the program's calls sent and not answered yet may take (characters of their lines).
   */
  setLimits(maxLineLength: number, maxOutputBytes: number, maxPendingCallChars: number): void;
  /** Whether a line (a JSON text) fits the server's bound. */
  fits(line: string): boolean;
  /** Sends one protocol line; nothing once the program ended. */
  send(line: string): void;
  /**
   * Sends the line of tool call `id` (the worker's own id) now if the calls sent and not
   * answered yet leave room for it, else keeps it until their answers do: the program's
   * `await` takes longer. Calls go out in the order they were made. A kept call is held as
   * `rebuild` (when its line can be made again, unchanged, from what it holds), else as bytes
   * outside the V8 heap: either way the program's memory, which its reports count.
   */
  call(id: number, line: string, rebuild?: () => string): void;
  /**
   * Says that the program waits on these calls and nothing else; calls still kept here are
   * left out (the server has not seen them, and they go once it answers the others).
   */
  idle(pending: number[]): void;
  /**
   * Forwards output in pieces of at most 16 Ki units, up to the limit and the piece that
   * crosses it (the server then marks the truncation); past it only drops, so a flood costs
   * nothing.
   */
  output(stream: "stdout" | "stderr", data: string): void;
  /**
   * Sends the end line (replaced by `fallback` if it would not fit the bound: only a return
   * value can make it too long), then tells the host the worker is done, unless `keep`: the
   * worker's realm is a session's, kept for its next program. Once per program.
   */
  end(line: string, fallback: string, keep?: boolean): void;
  /** A session's next program starts: lines and output flow again. */
  reopen(): void;
  /** Whether the program ended. */
  readonly ended: boolean;
  /** Lines from the server (the run message first), set by the worker. */
  onLine: (line: string) => void;
  /** Signals to the host that are not protocol lines (`warm`, `failed`). */
  signal(message: WorkerSignal): void;
  /**
   * Reports `measure()` to the host every 100 ms (`MEMORY_REPORT_MS`), from now, while the
   * program grows or has just been answered, less often while it waits, until the end; the
   * host terminates a worker over its cap. (A program that never yields reports nothing: its
   * host's cgroup holds it.)
   */
  reportMemory(measure: () => number): void;
}

/** The timers the channel's memory reports run on. */
export interface ChannelTimers {
  later(fn: () => void, ms: number): unknown;
  cancel(timer: unknown): void;
}

/**
 * The runtime's own timers, captured at the worker's start (before the realm closes
 * `Deno[Deno.internal]`). The global `setTimeout` is loaded on its first use, which costs a
 * worker ~10 ms of CPU, a third of its start: a program pays that only if it uses timers. And
 * a program cannot clear these by a timer's number.
 */
export function runtimeTimers(): ChannelTimers {
  const core = (Deno as any)[(Deno as any).internal]?.core;
  if (typeof core?.createTimer !== "function" || typeof core?.cancelTimer !== "function") {
    return { later: (fn, ms) => setTimeout(fn, ms), cancel: (t) => clearTimeout(t as number) };
  }
  const create = core.createTimer;
  const clear = core.cancelTimer;
  return {
    later: (fn, ms) => create(fn, ms, undefined, false, true),
    cancel: (timer) => {
      if (timer !== undefined) clear(timer);
    },
  };
}

/** Opens the channel on `port`, its memory reports on `timers`. Call before the program can run. */
export function openChannel(port: MessagePort, text: ChannelText, timers: ChannelTimers): Channel {
  const post: (message: WorkerSignal) => void = port.postMessage.bind(port);
  const { later, cancel } = timers;
  /** Wakes the memory reports up (the program runs again), once they are on. */
  let wake = () => {};
  const stringify = JSON.stringify;
  const splitText = text.splitText;
  const jsonLength = text.jsonLength;
  let maxLineLength = Infinity;
  let budget = Infinity;
  let ended = false;
  const calls = text.pendingCalls((line) => post({ type: "line", line }), text.utf8Length);
  let timer: unknown;
  let measured: (() => number) | undefined;
  const channel: Channel = {
    onLine: () => {},
    get ended() {
      return ended;
    },
    setLimits(lineLength, outputBytes, pendingCallChars) {
      if (lineLength > 0) maxLineLength = lineLength;
      if (outputBytes >= 0) budget = outputBytes;
      if (pendingCallChars > 0) calls.bound = pendingCallChars;
    },
    fits(line) {
      return line.length <= maxLineLength;
    },
    send(line) {
      if (!ended) post({ type: "line", line });
    },
    call(id, line, rebuild) {
      if (!ended) calls.call(id, line, rebuild);
    },
    idle(pending) {
      if (!ended) {
        post({ type: "line", line: stringify({ type: "idle", pending: calls.sent(pending) }) });
      }
    },
    output(stream, data) {
      if (ended || data === "" || budget < 0) return;
      const pieces = splitText(data, 16_384);
      for (let i = 0; i < pieces.length; i++) {
        const piece = pieces[i]!;
        budget -= jsonLength(piece);
        post({ type: "line", line: stringify({ type: "output", stream, data: piece }) });
        if (budget < 0) return;
      }
    },
    end(line, fallback, keep = false) {
      if (ended) return;
      // A kept realm holds what its program left: its last report says so, before the end, so
      // that a program that grew past its cap between two reports ends as over it (its host
      // stops it) rather than with what it printed, leaving its session a realm over its cap.
      if (keep && measured) post({ type: "memory", bytes: measured() });
      ended = true;
      calls.clear();
      post({ type: "line", line: line.length <= maxLineLength ? line : fallback });
      if (!keep) post({ type: "done" });
    },
    reopen() {
      ended = false;
      calls.clear();
    },
    signal: (message) => post(message),
    reportMemory(measure) {
      measured = measure;
      // Every 100 ms while the program grows or has just run; twice as long after each report
      // that finds it grown by less than 16 MiB, up to 10 s: a program waiting on its tools
      // costs a report every ten seconds, not ten a second.
      // A session's next program starts them again: one loop at a time.
      cancel(timer);
      let interval = 100;
      let last = 0;
      const report = () => {
        if (ended) return;
        const bytes = measure();
        post({ type: "memory", bytes });
        interval = bytes - last > 16 << 20 ? 100 : Math.min(interval * 2, 10_000);
        last = bytes;
        timer = later(report, interval);
      };
      wake = () => {
        if (interval === 100 || ended) return;
        cancel(timer);
        interval = 100;
        timer = later(report, interval);
      };
      // Not at once: what a realm holds before its program runs is what every realm holds, and a
      // program that ends within 100 ms is spared a measure and a message (~0.4 ms of CPU).
      timer = later(report, interval);
    },
  };
  port.onmessage = (event: MessageEvent<HostToWorker>) => {
    const line = (event.data as any)?.line;
    if (typeof line !== "string") return;
    wake();
    // Answers make room first: calls kept for it go before the program runs again.
    if (!ended) calls.answered(line);
    channel.onLine(line);
  };
  return channel;
}
