/**
 * Settings that start a server that can never work, refused at start: options whose values
 * are each within bounds but together make every program fail (a memory budget smaller than
 * one sandbox), a sandbox Deno binary that is missing or does not run, and a listening
 * address that cannot be had. Each is one {@linkcode OptionError} naming the option.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { type Audience, OptionError } from "./option_kinds.ts";
import { terminalFrameBytes } from "./limits.ts";
import { hostIsolates } from "../sandbox/messages.ts";
import { HOST_OWN_MEMORY } from "../runner/runner_pools.ts";
import { ISOLATE_RESERVE_MB } from "./option_floors.ts";
import { type OptionKey, type OptionValues, specOf } from "./option_table.ts";

const MiB = 1024 * 1024;

/** An option's name for an audience: `--sandbox-memory-mb`, or `sandboxMemoryMb`. */
export function optionName(key: OptionKey, audience: Audience): string {
  const flag = specOf(key).flag;
  return audience === "cli" && flag ? `--${flag}` : key;
}

/**
 * What admission charges a program of `language` against the memory budget until its host is
 * measured, in bytes: a little more than one was measured to hold while it waits on a tool
 * (proportional set size, with the host's share): TypeScript ~7 MiB, Python ~60 MiB
 * (BENCHMARKS.md, "Executions held at once"). What hosts hold beyond their programs' charges is
 * counted as it is measured.
 */
export function programCharge(_config: unknown, language: Language): number {
  return (language === "python" ? 64 : 10) * MiB;
}

/**
 * The memory one host may use (its cgroup's limit), in bytes: each of its programs up to its
 * cap and the host's own, and never more than the kernel's stop for all hosts (an eighth above
 * the budget).
 */
export function hostMemoryBytes(
  config: Pick<
    OptionValues,
    | "memoryBudgetMb"
    | "sandboxMemoryMb"
    | "pythonSandboxMemoryMb"
    | "hostMaxPrograms"
    | "pythonHostMaxPrograms"
  >,
  language: Language,
): number {
  const [programs, cap] = language === "python"
    ? [config.pythonHostMaxPrograms, config.pythonSandboxMemoryMb]
    : [config.hostMaxPrograms, config.sandboxMemoryMb];
  // The host's own realm, relay and spare workers beside its programs (Python's spares hold
  // Pyodide); never above the kernel's stop for all hosts, an eighth above the budget (the
  // server ends programs at the budget itself).
  const own = HOST_OWN_MEMORY[language === "python" ? "python" : "deno"] / MiB;
  return Math.min(Math.round(config.memoryBudgetMb * 1.125), programs * cap + own) * MiB;
}

/**
 * The memory budget must hold one program of the default language, or every program waits for
 * memory that never comes and gets 503 while `/ready` says 200.
 */
export function memoryBudgetProblem(
  config: Pick<OptionValues, "memoryBudgetMb" | "language">,
): OptionError | undefined {
  const needed = programCharge(config, config.language) / MiB;
  if (config.memoryBudgetMb >= needed) return undefined;
  return new OptionError(
    "memoryBudgetMb",
    config.memoryBudgetMb,
    `expected at least ${needed} MiB: a ${config.language} program is charged ${needed} MiB ` +
      "until it is measured, so no program could start",
  );
}

/**
 * An event stream must hold a terminal frame (the output limit, the return value's, an error's
 * text) and room for other frames, or an execution that prints to its limit could never end
 * with one.
 */
export function bufferedBytesProblem(
  config: Pick<OptionValues, "maxBufferedBytes" | "maxOutputBytes" | "maxToolArgsBytes">,
): OptionError | undefined {
  const needed = terminalFrameBytes(config) + 64 * 1024;
  if (config.maxBufferedBytes >= needed) return undefined;
  return new OptionError(
    "maxBufferedBytes",
    config.maxBufferedBytes,
    (audience) =>
      `expected at least ${needed}: a stream must hold a last frame of up to ` +
      `${optionName("maxOutputBytes", audience)} of output and ` +
      `${optionName("maxToolArgsBytes", audience)} of return value, and 64 KiB more`,
  );
}

/** Throws the first combination of options that makes every program fail. */
/**
 * A host's data rlimit must hold the isolates of a full host (its realm, its relay, a worker per
 * program and its spares, ~544 MiB of address space each), or the program that fills it fails,
 * and takes the host's other programs with it.
 */
export function dataProblem(
  config: Pick<
    OptionValues,
    "dataMb" | "pythonDataMb" | "hostMaxPrograms" | "pythonHostMaxPrograms"
  >,
): OptionError | undefined {
  const checks = [
    ["dataMb", config.dataMb, hostIsolates("deno", config.hostMaxPrograms), "hostMaxPrograms"],
    [
      "pythonDataMb",
      config.pythonDataMb,
      hostIsolates("python", config.pythonHostMaxPrograms),
      "pythonHostMaxPrograms",
    ],
  ] as const;
  for (const [key, value, isolates, programs] of checks) {
    const needed = isolates * ISOLATE_RESERVE_MB;
    if (value >= needed) continue;
    return new OptionError(
      key,
      value,
      (audience) =>
        `expected at least ${needed} MiB: a host of ${optionName(programs, audience)} ` +
        `${config[programs]} runs ${isolates} isolates of ~${ISOLATE_RESERVE_MB} MiB each`,
    );
  }
  return undefined;
}

export function checkCombination(config: OptionValues): void {
  const problem = memoryBudgetProblem(config) ?? dataProblem(config) ??
    bufferedBytesProblem(config);
  if (problem) throw problem;
}

/**
 * Checks that `path` is a Deno binary that runs (unless it is the one running this process):
 * it exists, is an executable file, and `--version` says `deno`.
 */
export async function checkDenoBinary(path: string): Promise<void> {
  if (path === Deno.execPath()) return;
  const fail = (why: string) => new OptionError("denoPath", path, why);
  if (path.includes("/")) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      throw fail(
        error instanceof Deno.errors.NotFound
          ? "no such file: expected the path of a Deno binary"
          : `cannot be read (${message(error)}): expected a Deno binary this user may run`,
      );
    }
    if (!info.isFile) throw fail("not a file: expected the path of a Deno binary");
    if (info.mode !== null && (info.mode & 0o111) === 0) {
      throw fail("not executable: expected a Deno binary this user may run");
    }
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
  } catch (error) {
    throw fail(`does not run (${message(error)}): expected a Deno binary this user may run`);
  }
  const said = new TextDecoder().decode(output.stdout).split("\n")[0]!.trim();
  if (!output.success || !/^deno \d/.test(said)) {
    throw fail(`is not a Deno binary (\`--version\` said ${JSON.stringify(said.slice(0, 60))})`);
  }
}

/** The error for a listener that could not be had on `hostname`:`port`. */
export function listenProblem(error: unknown, hostname: string, port: number): OptionError {
  if (error instanceof Deno.errors.AddrInUse) {
    return new OptionError(
      "port",
      port,
      (audience) =>
        `${hostname}:${port} is in use: expected a free port, or 0 for any free one ` +
        `(${optionName("port", audience)} 0)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new OptionError(
      "port",
      port,
      `this user may not listen on it (${message(error)}): expected a port from 1024 up`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new OptionError("host", hostname, "not an address of this machine");
  }
  if (/lookup address|Name or service not known|nodename nor servname/i.test(message(error))) {
    return new OptionError(
      "host",
      hostname,
      "does not resolve: expected an address or host name of this machine",
    );
  }
  return new OptionError(
    "host",
    hostname,
    `cannot listen there (${message(error)}): expected an address or host name of this machine`,
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
