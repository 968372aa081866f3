/**
 * The server's end of its sandbox hosts' connections: a Unix socket in a directory only the
 * server's user may enter, which each host opens once, right after it starts, and names itself
 * on with the key the server gave it on stdin. No program holds a connection: a host's realm
 * opens it and then gives up the permission, and its workers never had one.
 *
 * @module
 */
import { readLines } from "../sandbox/lines.ts";
import { socketWriter } from "../sandbox/socket_writer.ts";

/** A host's connection, once it said its key: its lines, and where to write. */
export interface HostConnection {
  /** The host's lines after its key, `<slot> <JSON>` each. */
  lines: AsyncGenerator<string>;
  /** Writes lines to the host (a closed connection drops them). */
  write(text: string): void;
  /** Closes the connection. */
  close(): void;
}

/** How long a connection may take to say its key. */
const KEY_TIMEOUT_MS = 5_000;

/** The socket hosts connect to. */
export class HostListener {
  /** The socket's path (a host gets it as its first argument). */
  readonly path: string;
  #dir: string;
  #listener: Deno.Listener;
  #maxLineLength: number;
  #expected = new Map<string, Expected>();
  #closed = false;

  private constructor(dir: string, listener: Deno.Listener, maxLineLength: number) {
    this.#dir = dir;
    this.path = `${dir}/hosts.sock`;
    this.#listener = listener;
    this.#maxLineLength = maxLineLength;
    this.#accept();
  }

  /** Listens on a new socket; `maxLineLength`: the longest line a host may write. */
  static open(maxLineLength: number): HostListener {
    let dir: string;
    try {
      dir = Deno.makeTempDirSync({ prefix: "progtc-hosts-" });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new Error(
        "the server needs write access to the temporary directory for its sandbox hosts' socket (--allow-write)",
      );
    }
    Deno.chmodSync(dir, 0o700);
    const listener = Deno.listen({ transport: "unix", path: `${dir}/hosts.sock` });
    return new HostListener(dir, listener, maxLineLength);
  }

  /** Resolves with the connection of the host that says `key`; rejects after `timeoutMs`. */
  expect(key: string, timeoutMs: number): Promise<HostConnection> {
    const { promise, resolve, reject } = Promise.withResolvers<HostConnection>();
    const timer = setTimeout(() => this.forget(key, "it did not connect in time"), timeoutMs);
    this.#expected.set(key, {
      deliver: (connection) => {
        clearTimeout(timer);
        resolve(connection);
      },
      fail: (why) => {
        clearTimeout(timer);
        reject(new Error(why));
      },
    });
    return promise;
  }

  /** Stops waiting for `key` (its host died first): its `expect` rejects with `why`. */
  forget(key: string, why = "it exited before it connected"): void {
    const expected = this.#expected.get(key);
    this.#expected.delete(key);
    expected?.fail(why);
  }

  /** Closes the socket and removes its directory; connections already made stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // Closed.
      }
      this.#greet(conn);
    }
  }

  /** Reads the first line, the key; hands the connection to whoever expects it. */
  async #greet(conn: Deno.Conn): Promise<void> {
    const lines = readLines(conn.readable, this.#maxLineLength, true);
    const timer = setTimeout(() => close(conn), KEY_TIMEOUT_MS);
    let key: string | undefined;
    try {
      key = (await lines.next()).value ?? undefined;
    } catch {
      // Broken or too long.
    }
    clearTimeout(timer);
    const expected = key === undefined ? undefined : this.#expected.get(key);
    if (!expected) return close(conn);
    this.#expected.delete(key!);
    // A closed connection drops what is written to it.
    expected.deliver({ lines, write: socketWriter(conn, () => {}), close: () => close(conn) });
  }
}

/** A host the listener waits for. */
interface Expected {
  deliver(connection: HostConnection): void;
  fail(why: string): void;
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
