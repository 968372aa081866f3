/**
 * The options of the `serve` section that concern the sandboxes: the Deno they run on, the
 * hosts kept ready, how many programs a host runs, the memory limits of a program and of a host
 * (V8 heap, cgroup, data rlimit), the memory budget of them all, and the executions it admits.
 *
 * @module
 */
import { hostIsolates, hostSpares } from "../sandbox/messages.ts";
import { count, duration, mebibytes, oneOf, text } from "./option_kinds.ts";
import { programCharge } from "./option_checks.ts";
import {
  FLOOR_MB,
  HOST_MAX_PROGRAMS,
  ISOLATE_RESERVE_MB,
  LAZY_PYTHON_POOL_SIZE,
} from "./option_floors.ts";
import { option, optional } from "./option_spec.ts";
import type { OptionSpecs } from "./option_table.ts";

const MiB = 1024 * 1024;
const SECOND = 1000;

/** The sandboxes' options: hosts kept ready, programs per host, memory limits, the budget. */
export const SANDBOX_OPTIONS: OptionSpecs<
  | "denoPath"
  | "poolSize"
  | "pythonPoolSize"
  | "heapMb"
  | "hostMaxPrograms"
  | "pythonHostMaxPrograms"
  | "pythonMemoryMb"
  | "sandboxMemoryMb"
  | "pythonSandboxMemoryMb"
  | "dataMb"
  | "pythonDataMb"
  | "memoryBudgetMb"
  | "maxConcurrent"
  | "cgroups"
  | "queueTimeoutMs"
> = {
  denoPath: option({
    flag: "sandbox-deno",
    kind: text("<path>", "the path of a Deno binary"),
    default: { text: "this Deno", of: ({ machine }) => machine.denoPath() },
    help: "The Deno binary sandboxes run on",
  }),
  poolSize: option({
    flag: "pool-size",
    kind: count(0),
    default: 2,
    help: "TypeScript/JavaScript sandbox hosts kept ready",
    summary: true,
  }),
  pythonPoolSize: optional<number>({
    flag: "python-pool-size",
    kind: count(0),
    unset: `${LAZY_PYTHON_POOL_SIZE}, started by the first Python program`,
    help: "Python sandbox hosts kept ready; given, they start with the server",
    summary: "on first use",
  }),
  heapMb: option({
    flag: "heap-mb",
    kind: mebibytes(FLOOR_MB.heap, "a Python host does not start"),
    default: 256,
    help: "V8 heap cap per isolate of a sandbox (a program's JavaScript heap)",
  }),
  hostMaxPrograms: option({
    flag: "host-max-programs",
    kind: count(1),
    default: HOST_MAX_PROGRAMS.deno,
    help: "TypeScript/JavaScript programs one sandbox host runs at once, each in a worker of " +
      "its own; 1 gives every program a process of its own (the strict mode)",
    summary: true,
  }),
  pythonHostMaxPrograms: option({
    flag: "python-host-max-programs",
    kind: count(1),
    default: HOST_MAX_PROGRAMS.python,
    help: "Python programs one sandbox host runs at once (1: the strict mode)",
  }),
  pythonMemoryMb: option({
    flag: "python-memory-mb",
    kind: mebibytes(1),
    default: 512,
    help: "Largest heap of a Python program; MemoryError past it",
  }),
  // Under the default data rlimit alone a host cannot use more: ~765 MiB was the most measured.
  sandboxMemoryMb: option({
    flag: "sandbox-memory-mb",
    kind: mebibytes(FLOOR_MB.sandbox, "its cgroup kills the host before it runs a program"),
    default: 768,
    help: "Memory cap of one TypeScript/JavaScript program: its host's cgroup limit is this " +
      "times its programs (at most the budget)",
  }),
  // ~1.47 GiB was the most a Python host used under the default data rlimit.
  pythonSandboxMemoryMb: option({
    flag: "python-sandbox-memory-mb",
    kind: mebibytes(FLOOR_MB.pythonSandbox, "its cgroup kills the host before it runs a program"),
    default: 1536,
    help: "Memory cap of one Python program (its host's cgroup: this times its programs)",
  }),
  // Every isolate reserves ~520 MiB of address space before it runs anything: the host's
  // realm, its relay, its programs' workers and its spares; and the programs' own memory.
  dataMb: option({
    flag: "data-mb",
    kind: mebibytes(FLOOR_MB.data, "no host runs a program"),
    default: {
      text: "544 MiB per isolate of a full host, plus --sandbox-memory-mb",
      of: ({ value }) =>
        hostIsolates("deno", value("hostMaxPrograms") as number) * ISOLATE_RESERVE_MB +
        (value("sandboxMemoryMb") as number),
    },
    help: "Data rlimit per sandbox host, ArrayBuffers included",
  }),
  // The same isolates, plus each worker's Pyodide memory (its spare's too).
  pythonDataMb: option({
    flag: "python-data-mb",
    kind: mebibytes(FLOOR_MB.pythonData, "Python hosts fail programs"),
    default: {
      // One worker's more: Pyodide's JavaScript side is beside its wasm memory, and a host
      // of one program has no other slack before its MemoryError.
      text: "544 MiB per isolate of a full host, plus --python-memory-mb per worker and one more",
      of: ({ value }) => {
        const programs = value("pythonHostMaxPrograms") as number;
        return hostIsolates("python", programs) * ISOLATE_RESERVE_MB +
          (programs + hostSpares("python", programs) + 1) * (value("pythonMemoryMb") as number);
      },
    },
    help: "Data rlimit per Python sandbox host",
  }),
  // Half: every sandbox may reach its cap at once and the machine still has half its memory,
  // for the server, ready hosts and the rest.
  memoryBudgetMb: option({
    flag: "memory-budget-mb",
    kind: mebibytes(1),
    default: {
      text: "half the memory available at start",
      of: ({ machine }) => Math.floor(machine.availableMemoryBytes() / 2 / MiB),
    },
    help: "Memory all sandboxes may hold together, counted as measured (a program is charged " +
      "what one is expected to use until it is); over it requests wait, then 503",
  }),
  // Memory decides how many programs run, not a fixed count: as many as the budget holds at
  // what a TypeScript program is charged.
  maxConcurrent: option({
    flag: "max-concurrent",
    kind: count(1),
    default: {
      text: "the memory budget over what a TypeScript program is charged (10 MiB)",
      of: ({ value }) =>
        Math.max(
          1,
          Math.floor((value("memoryBudgetMb") as number) * MiB / programCharge({}, "typescript")),
        ),
    },
    help: "Executions running at once",
    summary: true,
  }),
  cgroups: option({
    flag: "cgroups",
    kind: oneOf(["auto", "off"] as const),
    default: "auto",
    help: "A memory cgroup per sandbox where possible, or the data rlimit only",
  }),
  queueTimeoutMs: option({
    flag: "queue-timeout",
    kind: duration({ min: 0 }),
    default: 10 * SECOND,
    help: "How long a request waits for a free slot before 503",
  }),
};
