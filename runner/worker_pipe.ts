// deno-lint-ignore-file no-explicit-any
/**
 * The protocol pipe as a program's worker sees it: the worker that runs a program reads the
 * server's lines from the process's stdin and writes its own lines to stdout itself, with no
 * hop through the host's realm (that hop cost more than the rest of a tool call).
 *
 * {@linkcode openPipe} is serialised with `Function.prototype.toString` into the worker's blob
 * source, so it must use nothing from this module's scope. It runs before the program and
 * captures what it needs, so a program that replaces `Deno.stdin`, `TextEncoder` or array
 * methods does not change it.
 *
 * Reads: one synchronous read loop for the `run` line (nothing else can run before it), then
 * asynchronous reads while the program waits for results. Whoever owns the pipe must leave no
 * read behind: the host's server checks the process for leftover readers before the next
 * program.
 *
 * @module
 */

/** The worker's end of the protocol pipe. */
export interface WorkerPipe {
  /** Sets the key every line starts with (the execution's, from its run message). */
  setKey(key: string): void;
  /** Sets the longest line the server reads, in UTF-16 units with the key (from the run message). */
  setMaxLineLength(units: number): void;
  /**
   * Whether `line` (a JSON text without newline) fits that bound once keyed: the server's line
   * reader counts the same units, so a line that fits is never a violation for its length.
   */
  fits(line: string): boolean;
  /** Writes one line (a JSON text without newline), keyed. Never throws. */
  write(line: string): void;
  /** The next line, reading synchronously; `null` when stdin is closed. */
  readLineSync(): string | null;
  /** The next line, reading asynchronously; `null` when stdin is closed. */
  readLine(): Promise<string | null>;
  /**
   * Called when the pipe fails under the program (it closed the worker's stdio handles): the
   * program can no longer be heard, so its host must end it.
   */
  onBroken: (error: unknown) => void;
}

/** Opens the pipe on the process's stdin and stdout. Call before the program can run. */
export function openPipe(): WorkerPipe {
  const D = Deno as any;
  const stdin = D.stdin;
  const stdout = D.stdout;
  const call = Function.prototype.call;
  const readSync: (p: Uint8Array) => number | null = stdin.readSync.bind(stdin);
  const read: (p: Uint8Array) => Promise<number | null> = stdin.read.bind(stdin);
  const writeSync: (p: Uint8Array) => number = stdout.writeSync.bind(stdout);
  const encoder = new TextEncoder();
  const encode: (s: string) => Uint8Array = encoder.encode.bind(encoder);
  const decoder = new TextDecoder();
  const decode: (p: Uint8Array, o?: { stream: boolean }) => string = decoder.decode.bind(decoder);
  const subarray: (p: Uint8Array, start: number, end?: number) => Uint8Array = call.bind(
    Uint8Array.prototype.subarray,
  ) as any;
  const byteLength: (p: Uint8Array) => number = call.bind(
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "byteLength")!
      .get!,
  ) as any;
  const indexOf: (s: string, c: string, from: number) => number = call.bind(
    String.prototype.indexOf,
  ) as any;
  const slice: (s: string, start: number, end?: number) => string = call.bind(
    String.prototype.slice,
  ) as any;
  const join: (a: string[], sep: string) => string = call.bind(Array.prototype.join) as any;

  const buffer = new Uint8Array(64 * 1024);
  let key = "";
  let maxLineLength = Infinity;
  let pieces: string[] = [];
  let lines: string[] = [];
  let head = 0;

  const feed = (n: number) => {
    const text = decode(subarray(buffer, 0, n), { stream: true });
    let start = 0;
    let end: number;
    while ((end = indexOf(text, "\n", start)) !== -1) {
      pieces[pieces.length] = slice(text, start, end);
      lines[lines.length] = pieces.length === 1 ? pieces[0]! : join(pieces, "");
      pieces = [];
      start = end + 1;
    }
    if (start < text.length) pieces[pieces.length] = slice(text, start);
  };
  const take = (): string | undefined => {
    if (head === lines.length) return undefined;
    const line = lines[head++]!;
    if (head === lines.length) {
      lines = [];
      head = 0;
    }
    return line;
  };

  let failed = false;
  const pipe: WorkerPipe = {
    onBroken: () => {},
    setKey(value) {
      key = value;
    },
    setMaxLineLength(units) {
      if (units > 0) maxLineLength = units;
    },
    fits(line) {
      return key.length + line.length <= maxLineLength;
    },
    write(line) {
      try {
        const bytes = encode(`${key}${line}\n`);
        const total = byteLength(bytes);
        let offset = writeSync(bytes);
        while (offset < total) offset += writeSync(subarray(bytes, offset));
      } catch (error) {
        fail(error);
      }
    },
    readLineSync() {
      try {
        for (;;) {
          const line = take();
          if (line !== undefined) return line;
          const n = readSync(buffer);
          if (n === null) return null;
          feed(n);
        }
      } catch (error) {
        fail(error);
        return null;
      }
    },
    async readLine() {
      try {
        for (;;) {
          const line = take();
          if (line !== undefined) return line;
          const n = await read(buffer);
          if (n === null) return null;
          feed(n);
        }
      } catch (error) {
        fail(error);
        return null;
      }
    },
  };
  // A write fails when the server is gone (it is killing this process) or when the program
  // closed the handles: either way the host is told once and ends.
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    pipe.onBroken(error);
  };
  return pipe;
}
