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
 *   host), then serve one program like a TypeScript worker: the run message and the answers
 *   come over its private channel and go to the Python runner, whose lines go back the same way.
 *
 * Runs in the untrusted sandbox host. Everything here can be tampered with by the user's code
 * (`import js`); that only affects the program's own execution: the server checks every
 * message. Imports types only.
 *
 * @module
 */

import type { Channel } from "../channel.ts";
import type { Realm } from "../realm.ts";
import type { PyodideLoader } from "./pyodide_load.ts";
import type { SnapshotCopyMessage } from "./snapshot_copies.ts";

/** What the snapshot build sends first. */
export interface PythonWorkerBuild {
  type: "build";
  indexURL: string;
  /** File URLs of `pyodide.mjs` and of the glue it loads (see `./glue.ts`). */
  moduleURL: string;
  asmURL: string;
  prelude: string;
}

/** How a host's worker loads Pyodide (with the snapshot and the compiled module). */
export interface PythonWorkerStart {
  /** File URLs of `pyodide.mjs` and of the glue it loads (see `./glue.ts`). */
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
export function pythonWorkerMain(realm: Realm, kit: { pyodideLoader: () => PyodideLoader }): void {
  const loader = kit.pyodideLoader();
  const scope = globalThis as any;
  const post: (message: unknown, transfer?: Transferable[]) => void = scope.postMessage.bind(
    scope,
  );
  let channel: Channel | undefined;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  let live = false;
  /** What the worker's realm holds, Pyodide's memory included (set as it starts). */
  let realmBytes: () => number = () => 0;
  let runner: any;

  // ─── the channel: the server's lines go to the Python runner, its lines to the server ────
  // The server measures a call's arguments and the return value against their limit; a line
  // too long for the channel is over it anyway, and is answered here as the server would.
  const callHead = /^\{"type":"tool_call","id":(\d+),"name":("(?:[^"\\]|\\.)*")/;
  let argsOverLimit = "";
  let valueOverLimit = "";
  const send = (line: string) => {
    if (channel!.ended) return;
    const call = callHead.exec(line);
    if (call && !channel!.fits(line)) {
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
    // Sent now, or once the answers to earlier calls make room for it; an idle report leaves
    // out the calls that wait for room.
    if (call) return channel!.call(Number(call[1]), line);
    if (line.startsWith('{"type":"idle",')) {
      let pending: unknown;
      try {
        pending = parse(line)?.pending;
      } catch {
        // Not the runner's: the server judges it as it came.
      }
      if (Array.isArray(pending)) return channel!.idle(pending);
    }
    channel!.send(line);
  };
  /** The realm is a session's: after each program's end it waits for the next run. */
  let session = false;
  const finish = (line: string) => {
    if (channel!.ended) return;
    channel!.end(line, stringify({ type: "runtime_error", error: valueOverLimit }), session);
    if (session) live = false;
  };
  const output = (stream: "stdout" | "stderr", data: string) => {
    if (live) channel!.output(stream, data);
  };
  const text = output;

  // ─── the realm's own stdio: never the process's stdout ────────────────────────────────────
  class ExitSignal extends Error {}
  const exit = (code?: unknown) => {
    const n = Number(code ?? 0);
    finish(stringify({ type: "exit", code: Number.isSafeInteger(n) ? n : 1 }));
    // Nothing of the program counts from now on; the host terminates this worker.
    throw new ExitSignal("The program exited");
  };
  realm.captureStdio({ output: text, exit });

  // ─── build: a snapshot with the runner frozen in ──────────────────────────────────────────
  const build = async (command: PythonWorkerBuild) => {
    const pyodide = await loader.load(command, { _makeSnapshot: true });
    pyodide.runPython(command.prelude);
    const modules = parse(
      pyodide.runPython(
        "import _progtc_program, json; json.dumps(_progtc_program.importable_modules())",
      ),
    );
    pyodide.runPython("del _progtc_program, json");
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
    // Before Pyodide makes its memory: it is the program's.
    realmBytes = realm.realmMemory();
    const pyodide = await loader.restore(init, (buffer) => {
      const message: SnapshotCopyMessage = { type: "snapshot-copy", buffer };
      post(message, [buffer]);
    });
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
    realm.realmObjectUrls();
    channel!.signal({ type: "warm" });
  };

  /** The run message, the first line from the server: the program starts. */
  const run = (line: string) => {
    let message: any;
    try {
      message = parse(line);
    } catch {
      return;
    }
    if (message?.type !== "run") return;
    argsOverLimit = `exceed the limit of ${message.maxToolArgsBytes} bytes of JSON`;
    valueOverLimit =
      `Error: the program's return value exceeds the limit of ${message.maxToolArgsBytes} bytes of JSON\n`;
    channel!.setLimits(message.maxLineLength, message.maxOutputBytes, message.maxPendingCallChars);
    const heap = Number(message.maxMemoryBytes);
    if (heap > 0) maxMemoryBytes = heap;
    session = message.session === true;
    // A session's next program: the channel was ended by the last one.
    channel!.reopen();
    channel!.reportMemory(realmBytes);
    live = true;
    runner.receive(line);
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
    channel = realm.openChannel(port, realm, realm.runtimeTimers());
    // The first line is the run message; the others answer the program's calls.
    channel.onLine = (line) => live ? runner.receive(line) : run(line);
    start(message).catch((error) => channel!.signal({ type: "failed", error: describe(error) }));
  };
}
