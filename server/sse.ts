/**
 * A server-sent event stream: `data: <compact JSON>\n\n` frames (no `event:` names, as the
 * reference), keepalive comments while quiet, bounded buffering for slow readers, and a signal
 * when the reader goes away.
 *
 * @module
 */

const encoder = new TextEncoder();
const KEEPALIVE = encoder.encode(": keepalive\n\n");

/** Options of {@linkcode EventStream}. */
export interface EventStreamOptions {
  /**
   * Send a keepalive comment after this much silence, in ms. httpx gives up after 5 s.
   * @default {1000}
   */
  keepaliveMs?: number;
  /**
   * Bytes the stream may hold for a reader that does not read; past that, `onOverflow` runs
   * (the server's `--max-buffered-bytes`).
   */
  maxBufferedBytes: number;
  /** The reader went away (disconnected or cancelled). */
  onCancel?: () => void;
  /** The reader is too slow: more than `maxBufferedBytes` are waiting. */
  onOverflow?: () => void;
}

/** A one-way stream of JSON frames. */
export class EventStream {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;
  #lastWrite = Date.now();
  #keepalive: ReturnType<typeof setInterval>;
  #options: EventStreamOptions;

  constructor(options: EventStreamOptions) {
    this.#options = options;
    const keepaliveMs = options.keepaliveMs ?? 1000;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      cancel: () => {
        if (!this.#open) return;
        this.#finish();
        options.onCancel?.();
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
    this.#keepalive = setInterval(() => {
      if (Date.now() - this.#lastWrite >= keepaliveMs) this.#write(KEEPALIVE);
    }, Math.max(10, Math.floor(keepaliveMs / 2)));
  }

  /** Whether frames can still be sent. */
  get open(): boolean {
    return this.#open;
  }

  /** Sends one frame. */
  send(frame: unknown): void {
    this.#write(encoder.encode(`data: ${JSON.stringify(frame)}\n\n`));
  }

  /** Ends the stream after the frames already sent. */
  close(): void {
    if (!this.#open) return;
    this.#finish();
    try {
      this.#controller.close();
    } catch {
      // The reader already cancelled.
    }
  }

  #write(bytes: Uint8Array): void {
    if (!this.#open) return;
    this.#lastWrite = Date.now();
    try {
      this.#controller.enqueue(bytes);
    } catch {
      return;
    }
    const max = this.#options.maxBufferedBytes;
    if ((this.#controller.desiredSize ?? 0) < -max) this.#options.onOverflow?.();
  }

  #finish(): void {
    this.#open = false;
    clearInterval(this.#keepalive);
  }
}
