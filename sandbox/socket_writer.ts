/**
 * Text written to a socket in order, straight to it rather than through a stream: what is
 * written while a write is under way goes in the next one. The server writes to its hosts with
 * it, and each host's relay to its server.
 *
 * Runs in the untrusted sandbox host too: {@linkcode socketWriter} is serialised with
 * `Function.prototype.toString` into the relay's source (`./relay.ts`), so it uses nothing from
 * its module's scope, only globals. Imports nothing.
 *
 * @example
 * ```ts
 * import { socketWriter } from "./socket_writer.ts";
 * const sent: string[] = [];
 * const conn = { write: (bytes: Uint8Array) => (sent.push(new TextDecoder().decode(bytes)), Promise.resolve(bytes.length)) };
 * const write = socketWriter(conn, () => {});
 * write("a\n");
 * write("b\n");
 * await Promise.resolve();
 * console.assert(sent.join("") === "a\nb\n");
 * ```
 *
 * @module
 */

/**
 * A writer of text to `conn`. Once a write fails, `broken` is called and the rest is dropped.
 */
export function socketWriter(
  conn: { write(bytes: Uint8Array): Promise<number> },
  broken: () => void,
): (text: string) => void {
  const encoder = new TextEncoder();
  let queued: string[] = [];
  let state: "idle" | "writing" | "broken" = "idle";
  const flush = async () => {
    state = "writing";
    try {
      while (queued.length > 0) {
        let bytes = encoder.encode(queued.length === 1 ? queued[0]! : queued.join(""));
        queued = [];
        while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
      }
      state = "idle";
    } catch {
      state = "broken";
      queued = [];
      broken();
    }
  };
  return (text) => {
    if (state === "broken") return;
    queued.push(text);
    if (state === "idle") void flush();
  };
}
