/**
 * A program's tool calls between its worker and the server: those sent and not answered yet,
 * and those that wait for room. What the sent ones take (the characters of their lines) stays
 * within a bound, so that a program issuing many large calls at once never has more than that
 * queued in its host for the socket; a call past it waits here, in order, until answers make
 * room, and the program's `await` just takes longer. The server counts the same on what it
 * receives and ends a program that sends more (`server/execution_calls.ts`).
 *
 * Why wait rather than fail the call: a call's result never depends on when it was sent, so
 * waiting changes nothing a step's replay must repeat, and the reference runs every call a
 * program makes, however many at once. A waiting call is held as UTF-8 bytes outside the V8
 * heap, where the program's memory reports count it (its heap's end would end its host); a
 * TypeScript call whose arguments cannot change (strings, numbers: no objects) is held as them,
 * and its line is made again when it goes.
 *
 * Runs in the untrusted sandbox host, in the program's own realm: {@linkcode pendingCalls} is
 * serialised with `Function.prototype.toString` into the worker's blob source, so it uses
 * nothing from this module's scope, and it captures what it uses before the program runs.
 * Imports nothing.
 *
 * @module
 */

/** A program's calls sent and not answered yet, and those that wait to be sent. */
export interface PendingCalls {
  /** The most the calls sent and not answered may take, in characters of their lines. */
  bound: number;
  /**
   * Sends a call's line now if there is room (or nothing else is sent), else keeps it: as
   * `rebuild`, which makes the same line again, when given, else as the line's bytes.
   */
  call(id: number, line: string, rebuild?: () => string): void;
  /** Frees the room of the calls a line from the server answers, and sends what then fits. */
  answered(line: string): void;
  /** Of `ids`, those not kept here (the server has seen them). */
  sent(ids: number[]): number[];
  /** Forgets every call (the program ended, or a session's next one starts). */
  clear(): void;
}

/** A call kept until there is room: its line's length, and how to make its line again. */
interface Kept {
  id: number;
  chars: number;
  line: (() => string) | Uint8Array;
}

/**
 * Calls that go out through `send` (one protocol line each); `utf8Length` is `text.ts`'s.
 *
 * @example
 * ```ts
 * import { pendingCalls } from "./pending_calls.ts";
 * const lines: string[] = [];
 * const calls = pendingCalls((line) => lines.push(line), (text) => text.length);
 * calls.bound = 50;
 * calls.call(1, `{"type":"tool_call","id":1,"args":["${"x".repeat(20)}"]}`);
 * calls.call(2, `{"type":"tool_call","id":2,"args":["${"y".repeat(20)}"]}`);
 * console.assert(lines.length === 1 && calls.sent([1, 2]).join() === "1");
 * calls.answered('{"type":"tool_result","id":1,"value":null}');
 * console.assert(lines.length === 2);
 * ```
 */
export function pendingCalls(
  send: (line: string) => void,
  utf8Length: (text: string) => number,
): PendingCalls {
  // Made at the first call kept (most programs keep none), from what the realm had at start.
  const apply = Reflect.apply;
  const Encoder = TextEncoder;
  const Decoder = TextDecoder;
  const { encodeInto } = Encoder.prototype;
  const { decode: decodeWith } = Decoder.prototype;
  let encoder: TextEncoder | undefined;
  let decoder: TextDecoder | undefined;
  // Into a buffer V8 allocates: if memory is short, that fails here as a RangeError the
  // program sees, where an encoder's own buffer (made by the runtime) would end the process.
  const encode = (line: string) => {
    const bytes = new Uint8Array(utf8Length(line));
    apply(encodeInto, encoder ??= new Encoder(), [line, bytes]);
    return bytes;
  };
  const decode = (bytes: Uint8Array): string =>
    apply(decodeWith, decoder ??= new Decoder(), [bytes]);
  // The server writes an answer's id right after its type; a batch's ids before its items.
  const single = RegExp.prototype.exec.bind(/^\{"type":"tool_(?:result|error)","id":(\d+)[,}]/);
  const batch = RegExp.prototype.exec.bind(/^\{"type":"tool_results","ids":\[([\d,]*)\]/);
  const nextNumber = RegExp.prototype.exec.bind(/\d+/g);
  const toNumber = Number;

  /** Characters of each call sent and not answered yet, by id; and their sum. */
  let unanswered: Record<number, number> = Object.create(null);
  let chars = 0;
  /** Calls kept until there is room: `waiting[head]` … `waiting[tail - 1]`, and their ids. */
  let waiting: Record<number, Kept> = Object.create(null);
  let kept: Record<number, true> = Object.create(null);
  let head = 0;
  let tail = 0;

  const fits = (length: number) => chars === 0 || chars + length <= calls.bound;
  const sendNow = (id: number, line: string) => {
    unanswered[id] = line.length;
    chars += line.length;
    send(line);
  };
  const release = (id: number) => {
    const length = unanswered[id];
    if (length === undefined) return;
    delete unanswered[id];
    chars -= length;
  };
  const calls: PendingCalls = {
    bound: Infinity,
    call(id, line, rebuild) {
      if (head === tail && fits(line.length)) return sendNow(id, line);
      waiting[tail++] = { id, chars: line.length, line: rebuild ?? encode(line) };
      kept[id] = true;
    },
    answered(line) {
      const one = single(line);
      if (one) release(toNumber(one[1]));
      else {
        const ids = batch(line)?.[1];
        if (ids === undefined) return;
        for (let match = nextNumber(ids); match; match = nextNumber(ids)) {
          release(toNumber(match[0]));
        }
      }
      while (head < tail && fits(waiting[head]!.chars)) {
        const next = waiting[head]!;
        delete waiting[head++];
        delete kept[next.id];
        sendNow(next.id, typeof next.line === "function" ? next.line() : decode(next.line));
      }
    },
    sent(ids) {
      const sent: number[] = [];
      for (let i = 0; i < ids.length; i++) if (!(ids[i]! in kept)) sent[sent.length] = ids[i]!;
      return sent;
    },
    clear() {
      unanswered = Object.create(null);
      waiting = Object.create(null);
      kept = Object.create(null);
      chars = 0;
      head = tail = 0;
    },
  };
  return calls;
}
