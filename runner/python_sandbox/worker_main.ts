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
 * - `start`: restore a snapshot, then serve one program: protocol lines from the server arrive
 *   as strings and go to the Python runner, whose lines go back to the sandbox's main realm.
 *
 * Everything here can be tampered with by the user's code (`import js`); that only affects the
 * program's own execution, because the server checks every message and the process serves one
 * execution.
 *
 * @module
 */

import type { Realm } from "../realm.ts";

/** What the main realm sends first. */
export type PythonWorkerCommand =
  | { type: "build"; indexURL: string; moduleURL: string; prelude: string }
  | { type: "start"; indexURL: string; moduleURL: string; snapshot: Uint8Array };

/** What the worker answers to `build`. */
export interface PythonWorkerSnapshot {
  type: "snapshot";
  snapshot: Uint8Array;
  modules: string[];
}

/**
 * Entry point of the Python worker: locks the realm's stdio and console, then waits for one
 * command.
 */
export function pythonWorkerMain(realm: Realm): void {
  const scope = globalThis as any;
  const post: (message: unknown, transfer?: Transferable[]) => void = scope.postMessage.bind(
    scope,
  );
  const stringify = JSON.stringify;

  let live = false;
  let ended = false;
  let forwarded = 0;
  let maxOutputBytes = Infinity;
  const send = (line: string) => {
    if (!ended) post(line);
  };
  const finish = (line: string) => {
    if (ended) return;
    ended = true;
    post(line);
  };
  const output = (stream: "stdout" | "stderr", data: string, bytes: number) => {
    // Forward up to the limit; the server sees a chunk cross it and truncates. Past it, drop:
    // a huge write must neither flood the pipe nor exceed the longest line the server reads.
    if (!live || ended || data === "" || forwarded > maxOutputBytes) return;
    const room = maxOutputBytes - forwarded + 1;
    if (bytes > room) data = data.slice(0, room);
    forwarded += bytes;
    send(stringify({ type: "output", stream, data }));
  };
  const encoder = new TextEncoder();
  const text = (stream: "stdout" | "stderr", data: string) =>
    output(stream, data, encoder.encode(data).byteLength);

  // ─── the realm's own stdio: never the process's stdout ────────────────────────────────────
  const exit = (code?: unknown) => {
    const n = Number(code ?? 0);
    finish(stringify({ type: "exit", code: Number.isSafeInteger(n) ? n : 1 }));
    // The realm relays the exit and the server kills the process: never return.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
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
  const build = async (command: any) => {
    const pyodide = await load(command, { _makeSnapshot: true });
    pyodide.runPython(command.prelude);
    const modules = JSON.parse(
      pyodide.runPython("import _progtc, json; json.dumps(_progtc.importable_modules())"),
    );
    pyodide.runPython("del _progtc, json");
    const snapshot: Uint8Array = pyodide.makeMemorySnapshot();
    const message: PythonWorkerSnapshot = { type: "snapshot", snapshot, modules };
    post(message, [snapshot.buffer as ArrayBuffer]);
  };

  // ─── start: restore, then serve one program ───────────────────────────────────────────────
  let runner: any;
  const early: string[] = [];
  const start = async (command: any) => {
    const pyodide = await load(command, { _loadSnapshot: command.snapshot });
    // Pyodide keeps its config reachable from Python (`pyodide_js._api.config`).
    delete pyodide._api.config._loadSnapshot;
    delete command.snapshot;
    for (const stream of ["stdout", "stderr"] as const) {
      const decoder = new TextDecoder();
      const options = {
        write: (buffer: Uint8Array) => {
          output(stream, decoder.decode(buffer, { stream: true }), buffer.byteLength);
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
    lockAfterLoad();
    live = true;
    post('{"type":"ready"}');
    for (const line of early.splice(0)) receive(line);
  };

  // Pyodide has loaded: close what it needed and the program does not (the same as in the
  // TypeScript sandbox).
  const lockAfterLoad = () => realm.closeEscapes({ output: text, exit });

  const fail = (error: unknown) => {
    // Before `ready` the main realm reports this on stderr and exits; after it, it ends the run.
    post({
      type: "failed",
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  };

  const receive = (line: string) => {
    if (!runner) return void early.push(line);
    if (line.startsWith('{"type":"run"')) {
      const limit = Number(JSON.parse(line).maxOutputBytes);
      if (limit >= 0) maxOutputBytes = limit;
    }
    runner.receive(line);
  };

  scope.onmessage = (event: MessageEvent) => {
    const message = event.data;
    if (typeof message === "string") return receive(message);
    if (message?.type === "build") build(message).catch(fail);
    else if (message?.type === "start") start(message).catch(fail);
  };
}
