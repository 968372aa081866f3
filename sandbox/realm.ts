// deno-lint-ignore-file no-explicit-any
/**
 * Lock-down of the worker realm where a program runs, shared by every sandbox kind. Its
 * functions are serialised with `Function.prototype.toString` into the worker's blob source,
 * next to the worker's own entry point, so they must use nothing from this module's scope.
 *
 * Runs in the untrusted sandbox host, in the program's realm. The process is shared with the
 * host's other programs: what the process holds for all its realms (stdio, the blob store,
 * broadcast channels, Web Locks, signals to itself) is closed or made the realm's own here.
 * Imports nothing but the other sandbox files.
 *
 * @module
 */
import { openChannel, runtimeTimers } from "./channel.ts";
import { pendingCalls } from "./pending_calls.ts";
import { clipText, jsonLength, splitText, utf8Length } from "./text.ts";

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
 * Makes blob URLs the realm's own: `URL.createObjectURL` keeps the blob in this realm and
 * `fetch` of a `blob:` URL resolves only those. The process's blob store is shared by every
 * worker of the host: a URL registered there could be resolved by a program running beside
 * this one, and would outlive this one.
 */
export function realmObjectUrls(): void {
  const scope = globalThis as any;
  const blobs = new Map<string, Blob>();
  const nativeFetch = scope.fetch;
  // Reading `Response` loads the fetch modules (1.5 ms in a fresh realm): read when needed.
  const response = Object.getOwnPropertyDescriptor(scope, "Response");
  const NativeResponse = () => response?.get ? response.get.call(scope) : response?.value;
  const BlobClass = scope.Blob;
  const uuid = crypto.randomUUID.bind(crypto);
  Object.defineProperty(URL, "createObjectURL", {
    value: function createObjectURL(object: Blob) {
      if (!(object instanceof BlobClass)) {
        throw new TypeError("URL.createObjectURL: the argument is not a Blob");
      }
      const url = `blob:null/${uuid()}`;
      blobs.set(url, object);
      return url;
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(URL, "revokeObjectURL", {
    value: function revokeObjectURL(url: string) {
      blobs.delete(String(url));
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(scope, "fetch", {
    value: function fetch(input: any, init?: any) {
      const url = typeof input === "string"
        ? input
        : input instanceof URL
        ? input.href
        : typeof input?.url === "string"
        ? input.url
        : String(input);
      if (!url.startsWith("blob:")) return nativeFetch(input, init);
      const blob = blobs.get(url);
      return blob
        ? Promise.resolve(new (NativeResponse())(blob))
        : Promise.reject(new TypeError(`fetch: no blob at ${url}`));
    },
    configurable: true,
    writable: true,
  });
}

/**
 * Measures what the realm holds, for its worker's memory reports: the V8 heap and what the
 * isolate counts outside it (ArrayBuffers), every wasm memory made in the realm from now on
 * (`new WebAssembly.Memory`, or exported by an instance), which V8 does not count, and every
 * Blob and File made with their constructors (their bytes are in the process's blob store). Run
 * it before anything makes a memory. What the realm's own APIs make (a `Response`'s blob, a
 * memory a wasm module keeps to itself) is not seen: the host's cgroup holds that. The native getters are captured: a program that replaces
 * them changes what it reads, not what is reported.
 */
export function realmMemory(): () => number {
  const W = WebAssembly as any;
  const usage: () => { heapUsed: number; external: number } = Deno.memoryUsage;
  const NativeMemory = W.Memory;
  const bufferOf = Object.getOwnPropertyDescriptor(NativeMemory.prototype, "buffer")!.get!;
  const lengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
  const sharedLengthOf = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!
    .get!;
  const memories: WeakRef<object>[] = [];
  const track = (value: unknown) => {
    if (value instanceof NativeMemory) memories.push(new WeakRef(value as object));
    return value;
  };
  // Blobs keep their bytes in the process's blob store, outside the isolate's count.
  const scope = globalThis as any;
  const sizeOf = Object.getOwnPropertyDescriptor(scope.Blob.prototype, "size")!.get!;
  const blobs: WeakRef<object>[] = [];
  for (const name of ["Blob", "File"]) {
    Object.defineProperty(scope, name, {
      value: new Proxy(scope[name], {
        construct(target, args, newTarget) {
          const blob = Reflect.construct(target, args, newTarget);
          blobs.push(new WeakRef(blob));
          return blob;
        },
      }),
      configurable: true,
      writable: true,
    });
  }
  const live = (refs: WeakRef<object>[], size: (value: object) => number) => {
    let bytes = 0;
    for (let i = refs.length - 1; i >= 0; i--) {
      const value = refs[i]!.deref();
      if (value === undefined) refs.splice(i, 1);
      else bytes += size(value);
    }
    return bytes;
  };
  const trackExports = (instance: any) => {
    for (const value of Object.values(instance?.exports ?? {})) track(value);
  };
  const define = (name: string, value: unknown) =>
    Object.defineProperty(W, name, { value, configurable: true, writable: true });
  define(
    "Memory",
    new Proxy(NativeMemory, {
      construct: (target, args, newTarget) =>
        track(Reflect.construct(target, args, newTarget)) as object,
    }),
  );
  define(
    "Instance",
    new Proxy(W.Instance, {
      construct(target, args, newTarget) {
        const instance = Reflect.construct(target, args, newTarget);
        trackExports(instance);
        return instance;
      },
    }),
  );
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const native = W[name];
    if (typeof native !== "function") continue;
    define(name, function (this: unknown, ...args: unknown[]) {
      return native.apply(W, args).then((result: any) => {
        trackExports(result?.instance ?? result);
        return result;
      });
    });
  }
  const memoryBytes = (memory: object) => {
    const buffer = bufferOf.call(memory);
    return buffer instanceof ArrayBuffer ? lengthOf.call(buffer) : sharedLengthOf.call(buffer);
  };
  return () => {
    const { heapUsed, external } = usage();
    return heapUsed + external + live(memories, memoryBytes) + live(blobs, (b) => sizeOf.call(b));
  };
}

/**
 * Closes what the program must not use once the runner has loaded everything it needs: the
 * `Deno[Deno.internal]` handle, nested workers (they could only have fewer permissions: refuse
 * clearly), `Deno.execPath()`, `Deno.ppid`, `Deno.args` and `Deno.kill`, broadcast channels and Web Locks,
 * and Node's `process` stdio, exits, signals, working directory and the runtime's path
 * (`execPath`, `argv[0]`).
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
  Object.defineProperties(D, {
    execPath: noExecPath,
    ppid: { value: 0, configurable: true },
    // The host's command line: its socket's path and its server's pid.
    args: { value: Object.freeze([]), configurable: true },
    // A signal to its own process needs no permission: it would end every program of the host.
    kill: {
      value: () => {
        throw notAllowed("Deno.kill()");
      },
      configurable: true,
      writable: true,
    },
  });
  // Both reach every realm of the process: a broadcast channel by name, a Web Lock by name
  // (Node's `worker_threads.locks` is the same LockManager).
  Object.defineProperty(scope, "BroadcastChannel", {
    value: class BroadcastChannel {
      constructor() {
        throw notAllowed("BroadcastChannel");
      }
    },
    configurable: true,
    writable: true,
  });
  const locks = scope.LockManager?.prototype;
  for (const method of ["request", "query"]) {
    if (!locks) break;
    Object.defineProperty(locks, method, {
      value: () => Promise.reject(notAllowed("navigator.locks")),
      configurable: true,
      writable: true,
    });
  }

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

  const refuseKill = (): never => {
    throw notAllowed("process.kill()");
  };

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
      kill: { value: () => refuseKill(), configurable: true, writable: true },
      _kill: { value: () => refuseKill(), configurable: true, writable: true },
      cwd: { value: () => "/", configurable: true, writable: true },
    });
    // The runtime's install path is the host's, not the program's business. (`execPath`,
    // `argv0` and `title` are accessors Node's process cannot redefine: `execPath` has a
    // setter, `title` shows it until set, and hosts start as `deno`, found on PATH, so that
    // `argv0` is that name.)
    proc.execPath = "deno";
    // Its other arguments are the host's command line (its socket's path, its server's pid).
    if (Array.isArray(proc.argv)) proc.argv.splice(0, proc.argv.length, "deno");
  }
  return () => void makeProcess();
}

/** The lock-down functions and the channel, as the worker receives them. */
export interface Realm {
  captureStdio: typeof captureStdio;
  closeEscapes: typeof closeEscapes;
  realmObjectUrls: typeof realmObjectUrls;
  realmMemory: typeof realmMemory;
  openChannel: typeof openChannel;
  runtimeTimers: typeof runtimeTimers;
  jsonLength: typeof jsonLength;
  splitText: typeof splitText;
  clipText: typeof clipText;
  utf8Length: typeof utf8Length;
  pendingCalls: typeof pendingCalls;
}

/**
 * The blob source of a worker: its entry point called with the lock-down functions and, for a
 * kind that needs more, its kit (made by a function of globals only, serialised the same way).
 *
 * @example
 * ```ts
 * import { workerSource } from "./realm.ts";
 * const source = workerSource(function main(realm) { void realm; });
 * console.assert(source.startsWith("(function main"));
 * ```
 */
export function workerSource<Kit>(
  main: (realm: Realm, kit: Kit) => void,
  kit?: () => Kit,
): string {
  return `(${main})(${realmSource()}, ${kit ? `(${kit})()` : "undefined"});`;
}

/** The {@linkcode Realm} as source. */
function realmSource(): string {
  return `({ captureStdio: ${captureStdio}, closeEscapes: ${closeEscapes}, realmObjectUrls: ${realmObjectUrls}, realmMemory: ${realmMemory}, openChannel: ${openChannel}, runtimeTimers: ${runtimeTimers}, jsonLength: ${jsonLength}, splitText: ${splitText}, clipText: ${clipText}, utf8Length: ${utf8Length}, pendingCalls: ${pendingCalls} })`;
}
