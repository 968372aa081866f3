// deno-lint-ignore-file no-explicit-any
/**
 * The code that runs inside the worker of a Python sandbox, in the realm where Pyodide and the
 * user's program live. {@linkcode pythonWorkerMain} is serialised with
 * `Function.prototype.toString` and started from a blob URL, so it must not use anything from
 * its module's scope: only globals.
 *
 * The worker's only permission is reading the Pyodide package files. It serves two purposes:
 * - `build`: load Pyodide from scratch, freeze the runner into it and return a memory snapshot
 *   (done once, by `runner/python.ts`, in a throwaway process);
 * - `init`: restore the snapshot its host sends (with Pyodide's wasm module, compiled once per
 *   host), then serve one program like a TypeScript worker: wait for `go`, read the run message
 *   from the pipe, hand the server's lines to the Python runner, write its lines to the pipe.
 *
 * Everything here can be tampered with by the user's code (`import js`); that only affects the
 * program's own execution: the server checks every message and the process before it runs
 * another program.
 *
 * @module
 */

import type { Realm } from "../realm.ts";

/** What the snapshot build sends first. */
export interface PythonWorkerBuild {
  type: "build";
  indexURL: string;
  moduleURL: string;
  prelude: string;
}

/** How a host's worker loads Pyodide (with the snapshot and the compiled module). */
export interface PythonWorkerStart {
  /** File URLs of `pyodide.mjs` and of the module it would load itself, `pyodide.asm.mjs`. */
  moduleURL: string;
  asmURL: string;
  /** A directory whose `pyodide.asm.wasm` holds {@linkcode placeholder} only. */
  indexURL: string;
  /** The standard library zip, a path. */
  stdLibURL: string;
  lockFileContents: string;
  placeholder: string;
}

/** What the worker answers to `build`. */
export interface PythonWorkerSnapshot {
  type: "snapshot";
  snapshot: Uint8Array;
  modules: string[];
}

/**
 * Entry point of the Python worker: locks the realm's stdio and console, then waits for its
 * host's init message (or a build command).
 */
export function pythonWorkerMain(realm: Realm): void {
  const scope = globalThis as any;
  const post: (message: unknown, transfer?: Transferable[]) => void = scope.postMessage.bind(
    scope,
  );
  const pipe = realm.openPipe();
  const revokeObjectUrls = realm.trackObjectUrls();
  const stringify = JSON.stringify;
  const parse = JSON.parse;

  let signal: (message: { type: string; error?: string }) => void = () => {};
  let live = false;
  let ended = false;
  let forwarded = 0;
  let maxOutputBytes = Infinity;

  // ─── reading the pipe: only while calls are pending ─────────────────────────────────────
  const pending = new Set<number>();
  let reading = false;
  let awaitingRelease = false;
  let runner: any;
  const needsInput = () => ended ? awaitingRelease : pending.size > 0;
  const callHead = /^\{"type":"tool_call","id":(\d+),"name":("(?:[^"\\]|\\.)*")/;
  const resultId = /^\{"type":"tool_(?:result|error)","id":(\d+)[,}]/;
  const receive = (line: string) => {
    if (ended) {
      if (line === '{"type":"release"}') awaitingRelease = false;
      return;
    }
    if (line.startsWith('{"type":"tool_results"')) {
      // A batch: every call it answers is no longer pending, and Python settles it at once.
      let items: unknown;
      try {
        items = parse(line).items;
      } catch {
        return;
      }
      if (!Array.isArray(items)) return;
      for (const item of items) pending.delete(Number((item as { id?: unknown })?.id));
      runner.receive(line);
      return;
    }
    const id = resultId.exec(line)?.[1];
    if (id === undefined || !pending.delete(Number(id))) return;
    runner.receive(line);
  };
  const readLoop = async () => {
    reading = true;
    try {
      while (needsInput()) {
        const line = await pipe.readLine();
        if (line === null) return; // The server closed the pipe: it is killing this process.
        receive(line);
      }
    } finally {
      reading = false;
    }
    if (ended) signal({ type: "done" });
  };
  // The server measures a call's arguments and the return value against their limit; a line
  // too long for the pipe is over it anyway, and is answered here as the server would.
  let argsOverLimit = "";
  let valueOverLimit = "";
  const send = (line: string) => {
    if (ended) return;
    const call = callHead.exec(line);
    if (call && !pipe.fits(line)) {
      const message = `Arguments of ${parse(call[2]!)}() ${argsOverLimit}`;
      const answer = stringify({
        type: "tool_error",
        id: Number(call[1]),
        name: "ToolError",
        message,
      });
      queueMicrotask(() => runner.receive(answer));
      return;
    }
    if (call) pending.add(Number(call[1]));
    pipe.write(line);
    if (call && !reading) readLoop();
  };
  const finish = (line: string) => {
    if (ended) return;
    ended = true;
    awaitingRelease = reading;
    if (!pipe.fits(`${line},"reading":true`)) {
      line = stringify({ type: "runtime_error", error: valueOverLimit });
    }
    pipe.write(reading ? `${line.slice(0, -1)},"reading":true}` : line);
    revokeObjectUrls();
    if (!reading) signal({ type: "done" });
  };
  const output = (stream: "stdout" | "stderr", data: string) => {
    // Forward up to the limit (JSON bytes, as the server counts); the server sees a piece
    // cross it and truncates. Past it, drop: a huge write must not flood the pipe. Pieces are at
    // most 16 Ki units, so no line is long (OUTPUT_PIECE_UNITS in sandbox_protocol.ts).
    if (!live || ended || data === "" || forwarded > maxOutputBytes) return;
    for (const piece of realm.splitText(data, 16_384)) {
      forwarded += realm.jsonLength(piece);
      send(stringify({ type: "output", stream, data: piece }));
      if (forwarded > maxOutputBytes) return;
    }
  };
  const text = output;
  const encoder = new TextEncoder();

  // ─── the realm's own stdio: never the process's stdout ────────────────────────────────────
  class ExitSignal extends Error {}
  const exit = (code?: unknown) => {
    const n = Number(code ?? 0);
    finish(stringify({ type: "exit", code: Number.isSafeInteger(n) ? n : 1 }));
    // Nothing of the program counts from now on; the host terminates this worker.
    throw new ExitSignal("The program exited");
  };
  realm.captureStdio({ output: text, exit });

  // `indexURL` is the package directory as a path: Pyodide resolves it with node:path.
  const load = async (command: any, extra: Record<string, unknown>) => {
    const { loadPyodide } = await import(command.moduleURL);
    const indexURL: string = command.indexURL;
    return await loadPyodide({
      indexURL,
      env: { HOME: "/home/pyodide" },
      // Otherwise sys.executable and $_ name the server's working directory.
      _sysExecutable: "python",
      stdin: () => null,
      stdout: () => {},
      stderr: () => {},
      ...extra,
    });
  };

  // ─── build: a snapshot with the runner frozen in ──────────────────────────────────────────
  const build = async (command: PythonWorkerBuild) => {
    const pyodide = await load(command, { _makeSnapshot: true });
    pyodide.runPython(command.prelude);
    const modules = parse(
      pyodide.runPython("import _progtc, json; json.dumps(_progtc.importable_modules())"),
    );
    pyodide.runPython("del _progtc, json");
    const snapshot: Uint8Array = pyodide.makeMemorySnapshot();
    const message: PythonWorkerSnapshot = { type: "snapshot", snapshot, modules };
    post(message, [snapshot.buffer as ArrayBuffer]);
  };

  // ─── the program's memory: Pyodide's wasm memory grows up to the run's cap ─────────────────
  // A failed grow is a MemoryError in Python; past the cap, nothing else of the process (its
  // other isolates) is starved by the program's heap.
  let maxMemoryBytes = Infinity;
  const grow = WebAssembly.Memory.prototype.grow;
  const bufferOf = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, "buffer")!.get!;
  Object.defineProperty(WebAssembly.Memory.prototype, "grow", {
    value: function (this: WebAssembly.Memory, delta: number) {
      const size = (bufferOf.call(this) as ArrayBuffer).byteLength;
      if (size + delta * 65536 > maxMemoryBytes) {
        throw new RangeError("WebAssembly.Memory.grow(): Maximum memory size exceeded");
      }
      return grow.call(this, delta);
    },
    configurable: true,
    writable: true,
  });

  // ─── init: restore the host's snapshot, warm up, wait for go ───────────────────────────────
  const start = async (init: any) => {
    // The host compiled Pyodide's wasm once: instantiate that module where Pyodide would
    // instantiate the bytes it read (the placeholder; it also instantiates small modules of
    // its own: leave those).
    const module: WebAssembly.Module = init.wasm;
    const instantiate = WebAssembly.instantiate;
    const placeholder = encoder.encode(init.placeholder);
    const isPlaceholder = (source: any) =>
      source instanceof Uint8Array && source.byteLength === placeholder.byteLength &&
      source.every((byte, i) => byte === placeholder[i]);
    Object.defineProperty(WebAssembly, "instantiate", {
      value: (source: any, imports?: WebAssembly.Imports) => {
        if (!isPlaceholder(source)) return instantiate(source, imports);
        return instantiate(module, imports).then((instance) => ({ instance, module }));
      },
      configurable: true,
      writable: true,
    });
    // The host sends the snapshot without its zero pages: hand Pyodide a full-length buffer
    // that is zero but for its header (never touched, so never faulted in), and copy the pages
    // that are not zero when Pyodide copies that buffer into the wasm memory.
    const sparse = init.snapshot;
    const full = new Uint8Array(sparse.length);
    full.set(sparse.data.subarray(0, sparse.memoryOffset));
    const set = Int8Array.prototype.set;
    Object.defineProperty(Int8Array.prototype, "set", {
      value: function (this: Int8Array, source: any, offset = 0) {
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
      configurable: true,
      writable: true,
    });
    const pyodide = await load(init, {
      _loadSnapshot: full,
      stdLibURL: init.stdLibURL,
      lockFileContents: init.lockFileContents,
      createPyodideModule: (await import(init.asmURL)).default,
    });
    Object.defineProperty(WebAssembly, "instantiate", {
      value: instantiate,
      configurable: true,
      writable: true,
    });
    Object.defineProperty(Int8Array.prototype, "set", {
      value: set,
      configurable: true,
      writable: true,
    });
    // Pyodide keeps its config reachable from Python (`pyodide_js._api.config`).
    delete pyodide._api.config._loadSnapshot;
    delete init.snapshot;
    delete init.wasm;
    for (const stream of ["stdout", "stderr"] as const) {
      const decoder = new TextDecoder();
      const options = {
        write: (buffer: Uint8Array) => {
          output(stream, decoder.decode(buffer, { stream: true }));
          return buffer.byteLength;
        },
      };
      if (stream === "stdout") pyodide.setStdout(options);
      else pyodide.setStderr(options);
    }
    pyodide.setStdin({ stdin: () => null });
    const python = pyodide.pyimport("_progtc");
    await python.warm();
    python.attach(send, finish);
    runner = python;
    // Pyodide has loaded: close what it needed and the program does not (the same as in the
    // TypeScript sandbox).
    realm.closeEscapes({ output: text, exit });
    revokeObjectUrls();
    signal({ type: "warm" });
  };

  /** Owns the pipe from now on: the run message is the first line meant for this worker. */
  const go = () => {
    let line: string | null;
    let message: any;
    for (;;) {
      line = pipe.readLineSync();
      if (line === null) return; // The server closed the pipe.
      try {
        message = parse(line);
      } catch {
        continue;
      }
      // Anything before the run message was meant for an earlier program: drop it.
      if (message?.type === "run" && typeof message.key === "string") break;
    }
    pipe.setKey(message.key);
    argsOverLimit = `exceed the limit of ${message.maxToolArgsBytes} bytes of JSON`;
    valueOverLimit =
      `Error: the program's return value exceeds the limit of ${message.maxToolArgsBytes} bytes of JSON\n`;
    pipe.setMaxLineLength(message.maxLineLength);
    const limit = Number(message.maxOutputBytes);
    if (limit >= 0) maxOutputBytes = limit;
    const memory = Number(message.maxMemoryBytes);
    if (memory > 0) maxMemoryBytes = memory;
    live = true;
    signal({ type: "started" });
    // The program's Python can reach what the runner holds: it never sees the key.
    delete message.key;
    runner.receive(stringify(message));
  };

  const describe = (error: unknown) =>
    error instanceof Error ? error.stack ?? error.message : String(error);

  scope.onmessage = (event: MessageEvent) => {
    const message = event.data;
    scope.onmessage = null;
    if (message?.type === "build") {
      build(message).catch((error) => post({ type: "failed", error: describe(error) }));
      return;
    }
    const port = message?.port;
    if (message?.type !== "init" || !(port instanceof MessagePort)) return;
    const postToHost = port.postMessage.bind(port);
    signal = (signalled) => postToHost(signalled);
    pipe.onBroken = (error) => signal({ type: "broken", error: String(error) });
    port.onmessage = (event: MessageEvent) => {
      if (event.data?.type === "go" && !live) go();
    };
    start(message).catch((error) => signal({ type: "failed", error: describe(error) }));
  };
}
