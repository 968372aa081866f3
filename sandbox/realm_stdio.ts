// deno-lint-ignore-file no-explicit-any
/**
 * The realm's own stdio: a program's console and writes to fd 1 and 2 become its output, never
 * the host process's stdout (the host's line protocol) or stderr.
 *
 * Runs in the untrusted sandbox host, in the program's realm; serialised with
 * `Function.prototype.toString` into the worker's source (see `./realm.ts`), so it uses nothing
 * from its module's scope. Imports nothing.
 *
 * @module
 */
/** What the lock-down calls back into the worker's runner code. */
export interface RealmHooks {
  /** The program printed `text` to `stream`. */
  output(stream: "stdout" | "stderr", text: string): void;
  /** The program asked to exit with `code`; must not return. */
  exit(code?: unknown): void;
}

/**
 * Replaces the realm's console (with Deno's own `Console`, so output is formatted exactly as
 * Deno prints it), `Deno.stdin`/`stdout`/`stderr`, `Deno.exit` and `close` with versions that
 * report to `hooks`, and deletes the storage globals. Nothing of the realm writes to the
 * process's stdio afterwards; run it before anything could print.
 */
export function captureStdio(hooks: RealmHooks): void {
  const D = Deno as any;
  const scope = globalThis as any;
  const console = new D[D.internal].Console((message: string, level: number) => {
    hooks.output(level > 1 ? "stderr" : "stdout", message);
  });
  Object.defineProperty(scope, "console", { value: console, writable: true, configurable: true });
  const writer = (stream: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    const write = (p: Uint8Array) => {
      hooks.output(stream, decoder.decode(p, { stream: true }));
      return p.byteLength;
    };
    // Streams cost a millisecond to set up in a fresh realm: made when first used.
    let writable: WritableStream<Uint8Array> | undefined;
    return {
      write: (p: Uint8Array) => Promise.resolve(write(p)),
      writeSync: write,
      get writable() {
        return writable ??= new WritableStream<Uint8Array>({ write: (p) => void write(p) });
      },
      isTerminal: () => false,
      close() {},
    };
  };
  let readable: ReadableStream<Uint8Array> | undefined;
  const stdin = {
    read: () => Promise.resolve(null),
    readSync: () => null,
    get readable() {
      return readable ??= new ReadableStream({ start: (c) => c.close() });
    },
    isTerminal: () => false,
    setRaw() {},
    close() {},
  };
  Object.defineProperties(D, {
    stdin: { value: stdin, configurable: true },
    stdout: { value: writer("stdout"), configurable: true },
    stderr: { value: writer("stderr"), configurable: true },
    exit: { value: hooks.exit, configurable: true, writable: true },
  });
  Object.defineProperty(scope, "close", { value: () => hooks.exit(0), configurable: true });
  // Storage would outlive the program: the host runs the next program with the same location.
  for (
    const name of [
      "prompt",
      "alert",
      "confirm",
      "caches",
      "CacheStorage",
      "Cache",
      "localStorage",
      "sessionStorage",
      "Storage",
      "indexedDB",
    ]
  ) {
    delete scope[name];
  }
}
