/**
 * The sandbox's end of its protocol pipe, used by the main realm of every sandbox kind.
 *
 * The server's first line on stdin is a key that only this realm reads. Every line the realm
 * writes starts with it, and the server refuses any stdout line that does not: the program runs
 * in another realm and never sees the key, so bytes it pushes to fd 1 by other means
 * (`node:fs`, say) cannot pass for a protocol message and stop the sandbox instead.
 *
 * No npm imports: sandboxes run with `--no-npm`.
 *
 * @module
 */
import { readLines } from "./lines.ts";

/** The protocol pipe, seen from the sandbox. */
export interface Channel {
  /** Writes one protocol line (a JSON text without newline), keyed. */
  write(line: string): void;
  /** The server's lines after the key. */
  lines: AsyncIterable<string>;
}

/**
 * Opens the channel on the process's stdin and stdout. Writes wait for the key; a write that
 * fails (the server is gone) ends the process.
 */
export function openChannel(): Channel {
  const encoder = new TextEncoder();
  const stdout = Deno.stdout.writable.getWriter();
  const input = readLines(Deno.stdin.readable)[Symbol.asyncIterator]();
  const key = input.next().then(({ value, done }) => {
    if (done || !/^[0-9a-f]{32}$/.test(value)) Deno.exit(1);
    return value;
  });
  let prefix: string | undefined;
  const early: string[] = [];
  const send = (line: string) => {
    stdout.write(encoder.encode(`${prefix}${line}\n`)).catch(() => Deno.exit(0));
  };
  key.then((value) => {
    prefix = value;
    for (const line of early.splice(0)) send(line);
  });
  return {
    write(line) {
      if (prefix === undefined) early.push(line);
      else send(line);
    },
    lines: {
      async *[Symbol.asyncIterator]() {
        await key;
        for (let next = await input.next(); !next.done; next = await input.next()) {
          yield next.value;
        }
      },
    },
  };
}
