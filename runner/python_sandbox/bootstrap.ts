/**
 * Main realm of a Python sandbox process. The process may read the Pyodide package files and
 * its memory snapshot, nothing else. This realm owns the protocol end (stdin/stdout), reads the
 * snapshot, and starts the worker where Pyodide and the user's program run; that worker may
 * only read the Pyodide files, and receives the snapshot bytes by transfer, so the program can
 * neither read the snapshot file nor write anything.
 *
 * The server starts it through a small generated entry module (see `runner/python.ts`) that
 * calls {@linkcode startPythonSandbox} with the paths: a sandbox cannot read its environment.
 *
 * @module
 */
import { openChannel } from "../channel.ts";
import { workerSource } from "../realm.ts";
import { type PythonWorkerCommand, pythonWorkerMain } from "./worker_main.ts";

/** Where a Python sandbox finds its files. */
export interface PythonSandboxPaths {
  /** The Pyodide package directory, absolute, ending with `/`. */
  pyodideDir: string;
  /** The file URL of `pyodide.mjs`. */
  pyodideModule: string;
  /** The memory snapshot file, absolute. */
  snapshot: string;
}

/** Permissions of the worker that runs Pyodide and the user's program. */
export function pythonWorkerPermissions(pyodideDir: string): Deno.PermissionOptionsObject {
  return {
    read: [pyodideDir],
    write: false,
    net: false,
    env: false,
    sys: false,
    run: false,
    ffi: false,
    import: false,
  };
}

/** Creates the worker that runs Pyodide (also used to build the snapshot). */
export function createPythonWorker(pyodideDir: string): Worker {
  const source = workerSource(pythonWorkerMain);
  return new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })), {
    type: "module",
    name: "program",
    deno: { permissions: pythonWorkerPermissions(pyodideDir) },
  });
}

/** Runs the sandbox: restores the snapshot in the worker and relays protocol lines. */
export async function startPythonSandbox(paths: PythonSandboxPaths): Promise<void> {
  const channel = openChannel();
  const write = channel.write;
  let ready = false;
  let ended = false;
  const fail = (error: string) => {
    if (!ready) {
      // Not a protocol line: the server reports stderr when a sandbox does not start.
      console.error(`Python sandbox failed to start: ${error}`);
      Deno.exit(1);
    }
    if (ended) return;
    ended = true;
    write(JSON.stringify({ type: "runtime_error", error: `${error}\n` }));
  };

  const snapshot = await Deno.readFile(paths.snapshot);
  const worker = createPythonWorker(paths.pyodideDir);
  worker.onmessage = (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (typeof data !== "string") {
      const error = (data as { error?: unknown } | null)?.error;
      return fail(typeof error === "string" ? error : "Unexpected message from the worker");
    }
    if (ended) return;
    if (data === '{"type":"ready"}') ready = true;
    // End messages carry no "output"/"tool_call"/"ready"/"idle" type; remember that one came.
    else if (!/^\{"type":"(output|tool_call|idle)"/.test(data)) ended = true;
    write(data);
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    fail(event.message);
  };
  worker.onmessageerror = () => fail("Unreadable message from the worker");
  const start: PythonWorkerCommand = {
    type: "start",
    indexURL: paths.pyodideDir,
    moduleURL: paths.pyodideModule,
    snapshot,
  };
  worker.postMessage(start, [snapshot.buffer]);

  for await (const line of channel.lines) worker.postMessage(line);
  // The server closed our stdin: it no longer wants this sandbox.
  Deno.exit(0);
}
