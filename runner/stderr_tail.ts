/**
 * The end of a sandbox host's stderr, as the server reads it: the last bytes it wrote (bounded),
 * how many it wrote in all, and where its last lines began. Programs can write to a host's stderr
 * without any permission, so what it says is the server's log, and decides nothing but what a
 * host of one program tells its own program (`SandboxHost`).
 *
 * @example
 * ```ts
 * import { StderrTail } from "./stderr_tail.ts";
 * const tail = new StderrTail(new Blob(["warning\nmemory allocation of 8 bytes failed\n"]).stream());
 * await tail.done;
 * const [line] = tail.lastLines(1);
 * console.assert(line?.text === "memory allocation of 8 bytes failed" && line.start === 8);
 * console.assert(tail.written === 44);
 * ```
 *
 * @module
 */
import { chunks } from "../sandbox/lines.ts";

const NEWLINE = 0x0a;

/** A line a stream wrote (without its `\n`), and the offset in bytes of its first byte. */
export interface TailLine {
  text: string;
  start: number;
}

/**
 * Reads a stream to its end, keeping its last `maxBytes` bytes and where its last `maxLines`
 * lines began.
 */
export class StderrTail {
  /** Resolves once the stream ended (or failed: the process is gone). */
  readonly done: Promise<void>;
  #maxBytes: number;
  #maxLines: number;
  /** Copies of the last chunks, together at most one chunk more than `maxBytes`. */
  #chunks: Uint8Array[] = [];
  #kept = 0;
  #written = 0;
  /**
   * The offsets just after the last `maxLines` + 1 newlines, oldest first: each line begins at
   * the one before its own end. The stream's start counts as one (the first line begins there).
   */
  #ends = [0];

  constructor(stream: ReadableStream<Uint8Array>, maxBytes = 8 * 1024, maxLines = 2) {
    this.#maxBytes = maxBytes;
    this.#maxLines = maxLines;
    this.done = this.#read(stream);
  }

  /** Bytes the stream wrote so far, kept or not. */
  get written(): number {
    return this.#written;
  }

  /** The last `maxBytes` bytes as text (a character cut at the start is dropped). */
  get text(): string {
    let bytes = this.#bytes();
    let skip = 0;
    // UTF-8 continuation bytes of a character whose start was not kept.
    while (skip < 3 && skip < bytes.length && (bytes[skip]! & 0xc0) === 0x80) skip++;
    bytes = bytes.subarray(skip);
    return new TextDecoder().decode(bytes);
  }

  /**
   * The last whole lines the stream ended with, at most `count` (up to `maxLines`), oldest first:
   * fewer when it wrote fewer or they are not all kept, none when it ends mid-line.
   */
  lastLines(count: number): TailLine[] {
    const ends = this.#ends;
    if (ends.at(-1) !== this.#written) return [];
    const bytes = this.#bytes();
    const first = this.#written - bytes.length;
    const lines: TailLine[] = [];
    for (let i = ends.length - 1; i > 0 && lines.length < count; i--) {
      const start = ends[i - 1]!;
      if (start < first) break;
      const text = new TextDecoder().decode(bytes.subarray(start - first, ends[i]! - 1 - first));
      lines.unshift({ text, start });
    }
    return lines;
  }

  /** Takes one chunk of the stream (a copy: the reader reuses its buffer). */
  push(chunk: Uint8Array): void {
    // Its last newlines, from the end, as many as are kept.
    const found: number[] = [];
    for (let at = chunk.length; found.length <= this.#maxLines && at > 0;) {
      at = chunk.lastIndexOf(NEWLINE, at - 1);
      if (at === -1) break;
      found.unshift(this.#written + at + 1);
    }
    this.#ends.push(...found);
    this.#ends.splice(0, Math.max(0, this.#ends.length - (this.#maxLines + 1)));
    this.#written += chunk.length;
    const kept = chunk.length > this.#maxBytes ? chunk.slice(-this.#maxBytes) : chunk.slice();
    this.#chunks.push(kept);
    this.#kept += kept.length;
    while (this.#kept - this.#chunks[0]!.length >= this.#maxBytes) {
      this.#kept -= this.#chunks.shift()!.length;
    }
  }

  /** The last `maxBytes` bytes. */
  #bytes(): Uint8Array {
    const all = new Uint8Array(this.#kept);
    let at = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all.subarray(Math.max(0, all.length - this.#maxBytes));
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of chunks(stream, 4096)) this.push(chunk);
    } catch {
      // The process is gone.
    }
  }
}
