// deno-lint-ignore-file no-explicit-any
/**
 * Lock-down of the worker realm where a program runs, shared by every sandbox kind. Both
 * functions are serialised with `Function.prototype.toString` into the worker's blob source,
 * next to the worker's own entry point, so they must use nothing from this module's scope.
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
    return {
      write: (p: Uint8Array) => Promise.resolve(write(p)),
      writeSync: write,
      writable: new WritableStream<Uint8Array>({ write: (p) => void write(p) }),
      isTerminal: () => false,
      close() {},
    };
  };
  const stdin = {
    read: () => Promise.resolve(null),
    readSync: () => null,
    readable: new ReadableStream({ start: (c) => c.close() }),
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
  for (const name of ["prompt", "alert", "confirm", "caches", "localStorage", "sessionStorage"]) {
    delete scope[name];
  }
}

/**
 * Closes what the program must not use once the runner has loaded everything it needs: the
 * `Deno[Deno.internal]` handle, nested workers (they could only have fewer permissions, but a
 * new isolate does not fit under the data rlimit: refuse clearly instead of dying of it),
 * `Deno.execPath()` and `Deno.ppid`, and Node's `process` stdio, exits and working directory.
 */
export function closeEscapes(hooks: RealmHooks): void {
  const D = Deno as any;
  const scope = globalThis as any;
  // Node's `process` is made on first use and reads `Deno.execPath()`: make it before that goes.
  const proc = scope.process;
  delete D[D.internal];
  const notAllowed = (what: string) =>
    new D.errors.NotCapable(`${what} is not allowed in the progtc sandbox`);
  Object.defineProperty(scope, "Worker", {
    value: class Worker {
      constructor() {
        throw notAllowed("Starting a worker");
      }
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperties(D, {
    execPath: {
      value: () => {
        throw notAllowed("Deno.execPath()");
      },
      configurable: true,
    },
    ppid: { value: 0, configurable: true },
  });
  if (!proc) return;
  const stream = (name: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    return {
      write(chunk: unknown, ...rest: unknown[]) {
        const text = typeof chunk === "string"
          ? chunk
          : decoder.decode(chunk as Uint8Array, { stream: true });
        hooks.output(name, text);
        (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
        return true;
      },
      isTTY: false,
      on() {
        return this;
      },
      once() {
        return this;
      },
      end() {},
    };
  };
  Object.defineProperties(proc, {
    stdout: { value: stream("stdout"), configurable: true },
    stderr: { value: stream("stderr"), configurable: true },
    exit: { value: hooks.exit, configurable: true, writable: true },
    reallyExit: { value: hooks.exit, configurable: true, writable: true },
    abort: { value: () => hooks.exit(134), configurable: true, writable: true },
    cwd: { value: () => "/", configurable: true, writable: true },
  });
}

/** The lock-down functions as the worker receives them. */
export interface Realm {
  captureStdio: typeof captureStdio;
  closeEscapes: typeof closeEscapes;
}

/**
 * The blob source of a worker: its entry point called with the lock-down functions.
 *
 * @example
 * ```ts
 * import { workerSource } from "./realm.ts";
 * const source = workerSource(function main(realm) { void realm; });
 * console.assert(source.startsWith("(function main"));
 * ```
 */
export function workerSource(main: (realm: Realm) => void): string {
  return `(${main})({ captureStdio: ${captureStdio}, closeEscapes: ${closeEscapes} });`;
}
