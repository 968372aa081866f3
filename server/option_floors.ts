/**
 * The measured values the options' bounds and defaults derive from: the smallest memory limits
 * at which a host runs programs, the programs a host runs at once, the address space of an
 * isolate, and the Python hosts kept ready once Python is used.
 *
 * @module
 */

/**
 * The smallest values of the memory limits at which a host starts and runs programs, in MiB
 * (below them, every program fails). Measured once on Deno 2.9.6, x86_64 Linux, with `prlimit`
 * and cgroup v1, by trying: a server started with the value, its pool warm, ran ten
 * `console.log(1)` (Python: `print(1)`), for values from the default down.
 * - Data rlimit, hosts of one program (`--host-max-programs 1`): TypeScript failed every
 *   program at 2600, none at 2800; Python failed every program at 2500, none at 2600 (a host
 *   runs its realm, its relay, its programs' workers and its spares, each an isolate that
 *   reserves ~520 MiB of address space before it runs anything; Python's hold Pyodide too).
 *   Hosts of more programs need more: `dataProblem` (option_checks.ts).
 * - V8 heap: a Python host did not start at 20, ran all ten at 21 (TypeScript from 4); 32
 *   keeps a margin.
 * - Memory cgroup: a TypeScript host failed at 16, ran all ten at 20 (32 keeps a margin); a
 *   Python host failed at 208, ran all ten at 224 (256).
 */
export const FLOOR_MB = {
  data: 2720,
  pythonData: 2688,
  heap: 32,
  sandbox: 32,
  pythonSandbox: 256,
} as const;

/**
 * Programs one host runs at once, by default: TypeScript workers take ~6 MiB each, so a host of
 * 64 holds its process's own ~30 MiB over many programs, and a host that dies (a program ran
 * its heap out, which V8 does not survive) ends at most 64; a Python worker takes ~60 MiB.
 */
export const HOST_MAX_PROGRAMS = { deno: 64, python: 16 } as const;

/** Address space each isolate reserves before it runs anything (the hosts' room checks use it). */
export { ISOLATE_RESERVE_MB } from "../runner/host_memory.ts";

/** Python hosts kept ready once the first Python program started them (no `--python-pool-size`). */
export const LAZY_PYTHON_POOL_SIZE = 1;
