// deno-lint-ignore-file no-explicit-any
/**
 * Lock-down of the worker realm where a program runs, shared by every sandbox kind. Both
 * functions are serialised with `Function.prototype.toString` into the worker's blob source,
 * next to the worker's own entry point, so they must use nothing from this module's scope.
 *
 * @module
 */
import { clipText, jsonLength, splitText } from "./text.ts";
import { openPipe } from "./worker_pipe.ts";

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

/**
 * Makes `URL.createObjectURL` remember what it registers, and returns a function that revokes
 * every URL registered so far. Blob URLs live in the process, not the realm: a program's blobs
 * would otherwise stay resolvable by the next program of the same host.
 */
export function trackObjectUrls(): () => void {
  const create = URL.createObjectURL;
  const revoke = URL.revokeObjectURL;
  const made: string[] = [];
  Object.defineProperty(URL, "createObjectURL", {
    value: function createObjectURL(object: Blob) {
      const url = create(object);
      made[made.length] = url;
      return url;
    },
    configurable: true,
    writable: true,
  });
  return () => {
    for (let i = 0; i < made.length; i++) revoke(made[i]!);
    made.length = 0;
  };
}

/**
 * Closes what the program must not use once the runner has loaded everything it needs: the
 * `Deno[Deno.internal]` handle, nested workers (they could only have fewer permissions, but a
 * new isolate does not fit under the data rlimit: refuse clearly instead of dying of it),
 * `Deno.execPath()` and `Deno.ppid`, and Node's `process` stdio, exits, working directory, title
 * and the runtime's path (`execPath`, `argv0`, `argv[0]`).
 *
 * Node's `process` costs milliseconds to make, so it is made when the program first reaches
 * `globalThis.process`, and locked then. A program that imports a `node:` module may reach it
 * another way first: call the returned function before such a program runs.
 */
export function closeEscapes(hooks: RealmHooks): () => void {
  const D = Deno as any;
  const scope = globalThis as any;
  const descriptor = Object.getOwnPropertyDescriptor(scope, "process");
  const execPath = D.execPath;
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
  const noExecPath = {
    value: () => {
      throw notAllowed("Deno.execPath()");
    },
    configurable: true,
  };
  Object.defineProperties(D, { execPath: noExecPath, ppid: { value: 0, configurable: true } });

  let proc: any;
  let made = false;
  const makeProcess = () => {
    if (made) return proc;
    made = true;
    // Node's `process` reads `Deno.execPath()` when it is made.
    Object.defineProperty(D, "execPath", { value: execPath, configurable: true });
    try {
      proc = descriptor?.get ? descriptor.get.call(scope) : descriptor?.value;
    } finally {
      Object.defineProperty(D, "execPath", noExecPath);
    }
    Object.defineProperty(scope, "process", {
      value: proc,
      configurable: true,
      writable: true,
      enumerable: descriptor?.enumerable ?? false,
    });
    if (proc) lockProcess(proc);
    return proc;
  };
  if (descriptor) {
    Object.defineProperty(scope, "process", {
      get: makeProcess,
      set(value: unknown) {
        makeProcess();
        scope.process = value;
      },
      configurable: true,
      enumerable: descriptor.enumerable ?? false,
    });
  }

  function lockProcess(proc: any): void {
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
    // Reading fd 0 would take the server's lines for the program's own worker.
    const stdin = {
      isTTY: false,
      fd: 0,
      read: () => null,
      on() {
        return this;
      },
      once() {
        return this;
      },
      off() {
        return this;
      },
      setEncoding() {
        return this;
      },
      resume() {
        return this;
      },
      pause() {
        return this;
      },
    };
    Object.defineProperties(proc, {
      stdin: { value: stdin, configurable: true },
      stdout: { value: stream("stdout"), configurable: true },
      stderr: { value: stream("stderr"), configurable: true },
      exit: { value: hooks.exit, configurable: true, writable: true },
      reallyExit: { value: hooks.exit, configurable: true, writable: true },
      abort: { value: () => hooks.exit(134), configurable: true, writable: true },
      cwd: { value: () => "/", configurable: true, writable: true },
    });
    // The runtime's install path is the host's, not the program's business. (`execPath`,
    // `argv0` and `title` are accessors Node's process cannot redefine: `execPath` has a
    // setter, `title` shows it until set, and hosts start as `deno`, found on PATH, so that
    // `argv0` is that name.)
    proc.execPath = "deno";
    if (Array.isArray(proc.argv) && proc.argv.length > 0) proc.argv[0] = "deno";
  }
  return () => void makeProcess();
}

/** The lock-down functions and the pipe, as the worker receives them. */
export interface Realm {
  captureStdio: typeof captureStdio;
  closeEscapes: typeof closeEscapes;
  openPipe: typeof openPipe;
  trackObjectUrls: typeof trackObjectUrls;
  jsonLength: typeof jsonLength;
  splitText: typeof splitText;
  clipText: typeof clipText;
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
  return `(${main})({ captureStdio: ${captureStdio}, closeEscapes: ${closeEscapes}, openPipe: ${openPipe}, trackObjectUrls: ${trackObjectUrls}, jsonLength: ${jsonLength}, splitText: ${splitText}, clipText: ${clipText} });`;
}
