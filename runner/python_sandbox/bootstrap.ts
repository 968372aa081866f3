/**
 * Main realm of a Python sandbox host. The process may read the Pyodide package files and its
 * memory snapshot, nothing else. This realm reads the snapshot and compiles Pyodide's wasm once,
 * then runs one program at a time like a TypeScript host (see `../host_main.ts`), each in a
 * fresh worker that restores its own copy of the snapshot. That worker may only read the
 * Pyodide files and receives the snapshot bytes by transfer, so the program can neither read
 * the snapshot file nor change what the next worker restores.
 *
 * The server starts it through a small generated entry module (see `runner/python.ts`) that
 * calls {@linkcode startPythonSandbox} with the paths: a sandbox cannot read its environment.
 *
 * @module
 */
import { runHost } from "../host_main.ts";
import { workerSource } from "../realm.ts";
import { pythonWorkerMain } from "./worker_main.ts";

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

let source: string | undefined;

/** Creates a worker that runs Pyodide (also used to build the snapshot). */
export function createPythonWorker(pyodideDir: string): Worker {
  source ??= URL.createObjectURL(
    new Blob([workerSource(pythonWorkerMain)], { type: "text/javascript" }),
  );
  return new Worker(source, {
    type: "module",
    name: "program",
    deno: { permissions: pythonWorkerPermissions(pyodideDir) },
  });
}

/** Runs the host: each worker restores the snapshot; programs run as in every host. */
export async function startPythonSandbox(paths: PythonSandboxPaths): Promise<void> {
  const [snapshot, wasm] = await Promise.all([
    Deno.readFile(paths.snapshot),
    WebAssembly.compile(await Deno.readFile(`${paths.pyodideDir}pyodide.asm.wasm`)),
  ]);
  runHost({
    create: () => createPythonWorker(paths.pyodideDir),
    init: () => {
      const copy = snapshot.slice();
      return {
        data: { indexURL: paths.pyodideDir, moduleURL: paths.pyodideModule, snapshot: copy, wasm },
        transfer: [copy.buffer],
      };
    },
    precreate: "on_start",
  });
}
