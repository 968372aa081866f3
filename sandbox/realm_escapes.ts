// deno-lint-ignore-file no-explicit-any
/**
 * What a program must not use once its runner has loaded, closed in its realm: the runtime's
 * internals, nested workers, the process's identity, signals and stdio through Node's
 * `process`, broadcast channels and Web Locks.
 *
 * Runs in the untrusted sandbox host, in the program's realm; serialised with
 * `Function.prototype.toString` into the worker's source (see `./realm.ts`), so it uses nothing
 * from its module's scope. Imports types only.
 *
 * @module
 */
import type { RealmHooks } from "./realm_stdio.ts";

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
