// deno-lint-ignore-file no-explicit-any
/**
 * How the worker of a Python sandbox loads Pyodide: as in a web worker, from its host's compiled
 * module and sparse snapshot, keeping nothing of what it loaded from. {@linkcode pyodideLoader}
 * is serialised with `Function.prototype.toString` into the worker's source (see
 * `../realm.ts` `workerSource`), so it must not use anything from its module's scope: only
 * globals.
 *
 * Invariants:
 * - Pyodide takes its web worker's path: it sees neither `process` (Node's path loads node:fs,
 *   node:url, node:vm, … into every worker: tens of milliseconds of CPU and megabytes each) nor
 *   `Deno` (which it refuses without `process`) while it loads; both are put back after.
 * - A held program keeps nothing it was loaded from: the snapshot's copies are gone at once
 *   (the host's given back, the full-length one detached), not at a later collection it may
 *   never have, and the standard library's zip is owned by Pyodide's file system instead of
 *   copied into it.
 * - Every global it patches while loading is restored before the worker goes on.
 *
 * Runs in the untrusted sandbox host, before any program. Imports nothing.
 *
 * @module
 */

/** File URLs of `pyodide.mjs` and of the glue it loads; the path of its other files. */
export interface PyodideFiles {
  moduleURL: string;
  asmURL: string;
  indexURL: string;
}

/** What a worker loads Pyodide with (see `./worker.ts`). */
export interface PyodideLoader {
  /** Loads Pyodide from `indexURL` (a path) with the glue at `asmURL`, with more options. */
  load(command: PyodideFiles, extra: object): Promise<any>;
  /**
   * Loads Pyodide from its host's compiled module and sparse snapshot (the init message), and
   * hands the snapshot's buffer to `giveBack` once restored.
   */
  restore(init: any, giveBack: (buffer: ArrayBuffer) => void): Promise<any>;
}

/** Makes the loader; runs in the worker's realm. */
export function pyodideLoader(): PyodideLoader {
  const scope = globalThis as any;
  const fileURL = (path: string) => new URL(path, "file:///").href;
  const patch = (target: object, name: string, value: unknown) => {
    const saved = Object.getOwnPropertyDescriptor(target, name);
    Object.defineProperty(target, name, { value, configurable: true, writable: true });
    return () => {
      if (saved) Object.defineProperty(target, name, saved);
      else delete (target as any)[name];
    };
  };

  // Captured before the runtime is hidden: Pyodide's files are read with it (below).
  const readFile: (url: URL) => Promise<Uint8Array> = scope.Deno.readFile;
  /**
   * Pyodide fetches its files while it loads (the standard library, the wasm or its placeholder
   * and, for the snapshot's build, the lock file);
   * a worker's first `fetch` would load Deno's whole fetch implementation (~25 ms of CPU in
   * every worker). The file is read instead, and answered with as much of a response as Pyodide
   * and `instantiateStreaming` use. Nothing else is fetched while it loads.
   */
  const readFileResponse = async (input: unknown) => {
    const url = new URL(String(input), "file:///");
    if (url.protocol !== "file:") {
      throw new TypeError(`Pyodide fetched ${url.href} while it loaded`);
    }
    const bytes = await readFile(url);
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const buffer = whole ? bytes.buffer : bytes.slice().buffer;
    return {
      ok: true,
      arrayBuffer: () => Promise.resolve(buffer),
      json: () => Promise.resolve(JSON.parse(new TextDecoder().decode(buffer))),
    };
  };

  /**
   * Pyodide's module looks at `clearTimeout` and `setImmediate` as it is made (it keeps the
   * first and tests the second), and a worker's first look at either loads Deno's timers (~7 ms
   * of CPU). While it loads, both are stand-ins that get the real one when called: a program
   * that sets no timer never loads them.
   */
  const deferGlobal = (name: string) => {
    const descriptor = Object.getOwnPropertyDescriptor(scope, name);
    const real = () => descriptor?.get ? descriptor.get.call(scope) : descriptor?.value;
    return patch(scope, name, (...args: unknown[]) => real()(...args));
  };

  const hideRuntime = () => {
    const restores = [
      patch(scope, "process", undefined),
      patch(scope, "Deno", undefined),
      patch(scope, "fetch", readFileResponse),
      deferGlobal("clearTimeout"),
      deferGlobal("setImmediate"),
    ];
    // A file's response has no wasm content type: instantiate its bytes.
    restores.push(
      patch(WebAssembly, "instantiateStreaming", async (source: any, imports?: object) => {
        const bytes = new Uint8Array(await (await source).arrayBuffer());
        return await WebAssembly.instantiate(bytes, imports as WebAssembly.Imports);
      }),
    );
    return () => restores.forEach((restore) => restore());
  };

  const load = async (
    command: PyodideFiles,
    extra: object,
    wrap = (create: (settings: any) => Promise<any>) => create,
  ) => {
    const restore = hideRuntime();
    try {
      const { loadPyodide } = await import(command.moduleURL);
      return await loadPyodide({
        indexURL: fileURL(command.indexURL),
        createPyodideModule: wrap((await import(command.asmURL)).default),
        env: { HOME: "/home/pyodide" },
        // Otherwise sys.executable and $_ name the server's working directory.
        _sysExecutable: "python",
        stdin: () => null,
        stdout: () => {},
        stderr: () => {},
        ...extra,
      });
    } finally {
      restore();
    }
  };

  /** Pyodide's file system takes the zip's buffer instead of a copy of it. */
  const ownStdlib = (create: (settings: any) => Promise<any>) => (settings: any) => {
    const own = (module: any) => {
      const writeFile = module.FS.writeFile;
      module.FS.writeFile = (path: string, data: unknown, options?: object) => {
        if (!/^\/lib\/python\d+\.zip$/.test(path) || !(data instanceof Uint8Array)) {
          return writeFile(path, data, options);
        }
        module.FS.writeFile = writeFile;
        return writeFile(path, data, { ...options, canOwn: true });
      };
    };
    return create({ ...settings, preRun: [own, ...settings.preRun] });
  };

  /**
   * The host compiled Pyodide's wasm once: instantiate that module where Pyodide would
   * instantiate the bytes it read (the placeholder; it also instantiates small modules of its
   * own: leave those).
   */
  const useModule = (module: WebAssembly.Module, text: string) => {
    const instantiate = WebAssembly.instantiate;
    const placeholder = new TextEncoder().encode(text);
    const isPlaceholder = (source: any) =>
      source instanceof Uint8Array && source.byteLength === placeholder.byteLength &&
      source.every((byte, i) => byte === placeholder[i]);
    return patch(WebAssembly, "instantiate", (source: any, imports?: WebAssembly.Imports) => {
      if (!isPlaceholder(source)) return instantiate(source, imports);
      return instantiate(module, imports).then((instance) => ({ instance, module }));
    });
  };

  /**
   * The host sends the snapshot without its zero pages: Pyodide gets a full-length buffer that
   * is zero but for its header (never touched, so never faulted in), and the pages that are not
   * zero are copied when Pyodide copies that buffer into the wasm memory.
   */
  const sparseRestore = (sparse: any) => {
    const full = new Uint8Array(sparse.length);
    full.set(sparse.data.subarray(0, sparse.memoryOffset));
    const set = Int8Array.prototype.set;
    const restore = patch(
      Int8Array.prototype,
      "set",
      function (this: Int8Array, source: any, offset = 0) {
        if (source?.buffer !== full.buffer || source.byteOffset !== sparse.memoryOffset) {
          return set.call(this, source, offset);
        }
        const ranges: Uint32Array = sparse.ranges;
        let at = sparse.memoryOffset;
        for (let i = 0; i < ranges.length; i += 2) {
          const length = ranges[i + 1]! - ranges[i]!;
          set.call(this, sparse.data.subarray(at, at + length), offset + ranges[i]!);
          at += length;
        }
      },
    );
    return {
      full,
      done: (giveBack: (buffer: ArrayBuffer) => void) => {
        restore();
        // Gone from this realm now: a held program would keep them until its next collection.
        giveBack(sparse.data.buffer);
        (full.buffer as ArrayBuffer).transfer(0);
      },
    };
  };

  const restore = async (init: any, giveBack: (buffer: ArrayBuffer) => void) => {
    const unpatch = useModule(init.wasm, init.placeholder);
    const snapshot = sparseRestore(init.snapshot);
    // The message is kept by the worker's caller: drop what it holds of the loading.
    delete init.snapshot;
    delete init.wasm;
    try {
      const pyodide = await load(init, {
        _loadSnapshot: snapshot.full,
        stdLibURL: fileURL(init.stdLibURL),
        lockFileContents: init.lockFileContents,
      }, ownStdlib);
      // Pyodide keeps its config reachable from Python (`pyodide_js._api.config`).
      delete pyodide._api.config._loadSnapshot;
      return pyodide;
    } finally {
      unpatch();
      snapshot.done(giveBack);
    }
  };

  return { load: (command, extra) => load(command, extra), restore };
}
