/**
 * A server-sent event stream: `data: <compact JSON>\n\n` frames (no `event:` names, as the
 * reference), keepalive comments while quiet, and a hard bound on what it holds for a reader
 * that does not read.
 *
 * Invariants:
 * - The stream never holds more than `maxBufferedBytes` of frames not yet taken by the
 *   connection, the terminal frame included: other frames may fill it up to
 *   `maxBufferedBytes - terminalReserveBytes`; the one past that calls `onOverflow` instead of
 *   being queued (the execution is stopped, and its terminal frame fits the reserve).
 * - Every byte held is also held in the server's {@linkcode ByteBudget}; a frame the budget
 *   cannot take overflows too (the terminal frame is always taken: its output was held before).
 * - Once closed, frames still unread after `unreadTimeoutMs` are dropped and the stream is cut
 *   (its connection closes): a client that never reads frees everything within that time.
 * - Frames are handed to the connection one at a time, when it asks (a pull stream), so what is
 *   held is exactly what the client has not taken.
 *
 * @module
 */
import { type ByteBudget, UNLIMITED } from "./byte_budget.ts";

const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(": keepalive\n\n");
/** The most of a frame the connection is handed at once. */
const CHUNK = 64 * 1024;

/** Ends a stream nobody read in time: its connection is closed (not a failure of the server). */
export class UnreadStreamError extends Error {
  constructor() {
    super("the event stream was not read in time: its connection was closed");
    this.name = "UnreadStreamError";
  }
}

/** Options of {@linkcode EventStream}. */
export interface EventStreamOptions {
  /**
   * Send a keepalive comment after this much silence, in ms. httpx gives up after 5 s.
   * @default {1000}
   */
  keepaliveMs?: number;
  /**
   * Bytes the stream may hold for a reader that does not read, the terminal frame included
   * (the server's `--max-buffered-bytes`).
   */
  maxBufferedBytes: number;
  /**
   * Bytes kept free for the terminal frame: other frames overflow past
   * `maxBufferedBytes - terminalReserveBytes`.
   * @default {0}
   */
  terminalReserveBytes?: number;
  /**
   * Once the stream is closed, how long frames may wait unread before the stream is cut, in ms.
   * @default {30000}
   */
  unreadTimeoutMs?: number;
  /** The server's budget of bytes held for clients. */
  budget?: ByteBudget;
  /** The reader went away (disconnected or cancelled). */
  onCancel?: () => void;
  /** The reader is too slow: a frame does not fit what the stream may hold. */
  onOverflow?: () => void;
}

/** A one-way stream of JSON frames. */
export class EventStream {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #options: EventStreamOptions;
  #budget: ByteBudget;
  #max: number;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  /** A pull waits for the next frame. */
  #waiting: (() => void) | undefined;
  #open = true;
  #closing = false;
  #lastWrite = Date.now();
  #keepalive: ReturnType<typeof setInterval>;
  #unreadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: EventStreamOptions) {
    this.#options = options;
    this.#budget = options.budget ?? UNLIMITED;
    this.#max = options.maxBufferedBytes;
    const keepaliveMs = options.keepaliveMs ?? 1000;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pull(),
      cancel: () => {
        const wasOpen = this.#open;
        this.#finish();
        if (wasOpen) options.onCancel?.();
      },
    }, { highWaterMark: 0 });
    this.#keepalive = setInterval(() => {
      // Only while nothing waits: a reader that takes nothing gets no more keepalives.
      if (this.#queue.length > 0 || Date.now() - this.#lastWrite < keepaliveMs) return;
      if (this.#budget.take(KEEPALIVE.byteLength)) this.#push([KEEPALIVE]);
    }, Math.max(10, Math.floor(keepaliveMs / 2)));
  }

  /** Whether frames can still be sent. */
  get open(): boolean {
    return this.#open && !this.#closing;
  }

  /** Bytes held for the reader now. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Sends one frame; false (and `onOverflow`) when it does not fit what the stream may hold. */
  send(frame: unknown): boolean {
    const room = this.#max - (this.#options.terminalReserveBytes ?? 0);
    return this.#enqueue(frameChunks(frame), room, false);
  }

  /** Sends the terminal frame (into the reserve) and closes the stream after it. */
  sendLast(frame: unknown): void {
    this.#enqueue(frameChunks(frame), this.#max, true);
    this.close();
  }

  /** Ends the stream after the frames already sent. */
  close(): void {
    if (!this.#open || this.#closing) return;
    this.#closing = true;
    clearInterval(this.#keepalive);
    if (this.#queue.length === 0) return this.#end();
    this.#unreadTimer = setTimeout(() => {
      // The reader never took them: drop them and cut the connection.
      const wasOpen = this.#open;
      this.#finish();
      if (wasOpen) {
        try {
          this.#controller.error(new UnreadStreamError());
        } catch {
          // Already cancelled.
        }
      }
    }, this.#options.unreadTimeoutMs ?? 30_000);
  }

  #enqueue(chunks: Uint8Array[], room: number, terminal: boolean): boolean {
    if (!this.#open || (this.#closing && !terminal)) return false;
    let size = 0;
    for (const chunk of chunks) size += chunk.byteLength;
    if (terminal) {
      // Bounded by the reserve, and its output was held by its execution until now.
      this.#budget.force(size);
    } else if (this.#buffered + size > room || !this.#budget.take(size)) {
      this.#options.onOverflow?.();
      return false;
    }
    this.#push(chunks);
    return true;
  }

  #push(chunks: Uint8Array[]): void {
    for (const chunk of chunks) {
      this.#queue.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    this.#lastWrite = Date.now();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }

  #pull(): Promise<void> | void {
    const next = this.#queue.shift();
    if (next === undefined) {
      if (this.#closing) return this.#end();
      return new Promise<void>((resolve) => this.#waiting = resolve).then(() => this.#pull());
    }
    this.#buffered -= next.byteLength;
    this.#budget.give(next.byteLength);
    this.#controller.enqueue(next);
    if (this.#closing && this.#queue.length === 0) this.#end();
  }

  #end(): void {
    if (!this.#open) return;
    this.#finish();
    try {
      this.#controller.close();
    } catch {
      // The reader already cancelled.
    }
  }

  /** Nothing more is sent; what is held is given back. */
  #finish(): void {
    this.#open = false;
    clearInterval(this.#keepalive);
    clearTimeout(this.#unreadTimer);
    this.#budget.give(this.#buffered);
    this.#buffered = 0;
    this.#queue = [];
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }
}

/**
 * A frame as UTF-8, in chunks of at most {@linkcode CHUNK} bytes, each a buffer of its own: the
 * connection is handed one at a time, so what it has taken and not yet written stays small,
 * the rest waits in the stream (counted, and dropped if unread), and each chunk is freed once
 * written, whatever the others do.
 */
function frameChunks(frame: unknown): Uint8Array[] {
  const text = `data: ${JSON.stringify(frame)}\n\n`;
  if (text.length * 3 <= CHUNK) return [encoder.encode(text)];
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < text.length;) {
    const chunk = new Uint8Array(CHUNK);
    const { read, written } = encoder.encodeInto(text.slice(at), chunk);
    chunks.push(written === CHUNK ? chunk : chunk.slice(0, written));
    at += read;
  }
  return chunks;
}
