/**
 * Main realm of a Python sandbox host. The process may read the Pyodide package files and its
 * memory snapshot, nothing else. This realm reads the snapshot and compiles Pyodide's wasm once
 * (then gives up reading the snapshot), then runs programs like a TypeScript host (see
 * `../host.ts`), several at once, each in a fresh worker that restores its own copy of the
 * snapshot. That worker may only read the Pyodide files and receives the snapshot bytes by
 * transfer, so no program can read the snapshot file nor change what another worker restores.
 *
 * Runs in the untrusted sandbox host. Imports sandbox files only.
 *
 * The server starts it through a small generated entry module (see `runner/python.ts`) that
 * calls {@linkcode startPythonSandbox} with the paths: a sandbox cannot read its environment.
 *
 * @module
 */
import { runHost } from "../host.ts";
import { HOST_SPARES } from "../messages.ts";
import { workerSource } from "../realm.ts";
import { pyodideLoader } from "./pyodide_load.ts";
import { snapshotCopies } from "./snapshot_copies.ts";
import { pythonWorkerMain, type PythonWorkerStart } from "./worker.ts";

/** Where a Python sandbox finds its files. */
export interface PythonSandboxPaths {
  /** The Pyodide package directory, absolute, ending with `/`. */
  pyodideDir: string;
  /** The file URL of `pyodide.mjs`. */
  pyodideModule: string;
  /** The memory snapshot file, absolute. */
  snapshot: string;
  /**
   * A directory (absolute, ending with `/`) whose `pyodide.asm.wasm` is a placeholder: the
   * workers of a host instantiate the module their host compiled, and Pyodide, which reads
   * that file first whatever it is given, reads a few bytes instead of 10 MB. Beside it,
   * `pyodide.asm.mjs` is Pyodide's glue as changed by `./glue.ts`.
   */
  indexDir: string;
}

/** Where the snapshot's build and the sandboxes load Pyodide's changed glue from. */
export function glueURL(paths: Pick<PythonSandboxPaths, "indexDir">): string {
  return new URL("pyodide.asm.mjs", new URL(paths.indexDir, "file:///")).href;
}

/** What the placeholder `pyodide.asm.wasm` of {@linkcode PythonSandboxPaths.indexDir} holds. */
export const WASM_PLACEHOLDER = "progtc: this host compiled pyodide.asm.wasm once\n";

/** Permissions of the worker that runs Pyodide and the user's program. */
export function pythonWorkerPermissions(
  pyodideDir: string,
  indexDir?: string,
): Deno.PermissionOptionsObject {
  return {
    read: indexDir === undefined ? [pyodideDir] : [pyodideDir, indexDir],
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

/** Creates a worker that runs Pyodide to build the snapshot (hosts' workers come from their spawner). */
export function createPythonWorker(pyodideDir: string, indexDir?: string): Worker {
  source ??= URL.createObjectURL(
    new Blob([workerSource(pythonWorkerMain, { pyodideLoader })], { type: "text/javascript" }),
  );
  return new Worker(source, {
    type: "module",
    name: "program",
    deno: { permissions: pythonWorkerPermissions(pyodideDir, indexDir) },
  });
}

/**
 * A memory snapshot without its zero pages. About half of Pyodide's memory is zero; a fresh
 * wasm memory is zero already, so a worker copies only the rest: half the bytes to copy and
 * transfer, and half the pages to fault in and keep.
 */
export interface SparseSnapshot {
  /** Length of the whole snapshot (Pyodide sizes the wasm memory by it). */
  length: number;
  /** Where the memory starts in the snapshot (after Pyodide's header). */
  memoryOffset: number;
  /** `[start, end)` pairs, offsets into the memory, of the pages that are not all zero. */
  ranges: Uint32Array;
  /** The header, then the bytes of each range, in order. */
  data: Uint8Array;
}

const PAGE = 4096;

/** Drops the zero pages of a Pyodide memory snapshot. */
export function sparseSnapshot(snapshot: Uint8Array): SparseSnapshot {
  const memoryOffset = new DataView(snapshot.buffer, snapshot.byteOffset).getUint32(4, true);
  const memory = snapshot.subarray(memoryOffset);
  const words = new BigUint64Array(memory.buffer, memory.byteOffset, Math.floor(memory.length / 8));
  const ranges: number[] = [];
  for (let page = 0; page * PAGE < memory.length; page++) {
    const start = page * PAGE;
    const end = Math.min(start + PAGE, memory.length);
    let zero = true;
    for (let w = start / 8; w < Math.floor(end / 8) && zero; w++) zero = words[w] === 0n;
    for (let b = Math.floor(end / 8) * 8; b < end && zero; b++) zero = memory[b] === 0;
    if (zero) continue;
    if (ranges.length > 0 && ranges[ranges.length - 1] === start) ranges[ranges.length - 1] = end;
    else ranges.push(start, end);
  }
  let size = memoryOffset;
  for (let i = 0; i < ranges.length; i += 2) size += ranges[i + 1]! - ranges[i]!;
  const data = new Uint8Array(size);
  data.set(snapshot.subarray(0, memoryOffset));
  let at = memoryOffset;
  for (let i = 0; i < ranges.length; i += 2) {
    data.set(memory.subarray(ranges[i], ranges[i + 1]), at);
    at += ranges[i + 1]! - ranges[i]!;
  }
  return { length: snapshot.length, memoryOffset, ranges: new Uint32Array(ranges), data };
}

/**
 * Pyodide's lock file without its packages: the npm package ships none of their files, and a
 * worker would parse and keep the list of several hundred (megabytes of heap each).
 */
export function lockFileWithoutPackages(contents: string): string {
  const lock = JSON.parse(contents);
  return JSON.stringify({ ...lock, packages: {} });
}

/** Runs the host: each worker restores the snapshot; programs run as in every host. */
export async function startPythonSandbox(paths: PythonSandboxPaths): Promise<void> {
  const [sparse, wasm, lockFileContents] = await Promise.all([
    // Both files are copied from, then freed (this realm has no collection to wait for).
    Deno.readFile(paths.snapshot).then((bytes) => {
      const sparse = sparseSnapshot(bytes);
      bytes.buffer.transfer(0);
      return sparse;
    }),
    Deno.readFile(`${paths.pyodideDir}pyodide.asm.wasm`).then(async (bytes) => {
      const module = await WebAssembly.compile(bytes);
      bytes.buffer.transfer(0);
      return module;
    }),
    Deno.readTextFile(`${paths.pyodideDir}pyodide-lock.json`).then(lockFileWithoutPackages),
  ]);
  await Deno.permissions.revoke({ name: "read", path: paths.snapshot });
  const copies = snapshotCopies(sparse.data, 1);
  const start: PythonWorkerStart = {
    moduleURL: paths.pyodideModule,
    asmURL: glueURL(paths),
    indexURL: paths.indexDir,
    stdLibURL: `${paths.pyodideDir}python_stdlib.zip`,
    lockFileContents,
    placeholder: WASM_PLACEHOLDER,
  };
  await runHost({
    source: workerSource(pythonWorkerMain, { pyodideLoader }),
    permissions: pythonWorkerPermissions(paths.pyodideDir, paths.indexDir),
    // Each worker gets its own copy of the snapshot, handed over, and gives it back once
    // restored, before its program runs (see `./snapshot_copies.ts`).
    init: () => {
      const data = copies.take();
      return {
        message: { ...start, snapshot: { ...sparse, data }, wasm },
        transfer: [data.buffer],
      };
    },
    posted: (data) => copies.giveBack(data),
    spares: HOST_SPARES.python,
  });
}
