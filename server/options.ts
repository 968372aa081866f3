/**
 * The options of `createApp()` and `serve()`: the table's options (server/option_table.ts,
 * declared in server/option_types.ts), the hooks only code can give, and `resolveOptions`,
 * which checks every value against its bounds and fills in every default.
 *
 * @module
 */
import type { Runner } from "../runner/runner.ts";
import type { RunnerConfig, RunnerHooks } from "../runner/runner_config.ts";
import { createLogger, type Logger } from "./log.ts";
import { type Machine, thisMachine } from "./machine.ts";
import { OptionError } from "./option_kinds.ts";
import { checkCombination, hostMemoryBytes } from "./option_checks.ts";
import { isComputed } from "./option_spec.ts";
import { LAZY_PYTHON_POOL_SIZE } from "./option_floors.ts";
import { OPTION_KEYS, type OptionKey, type OptionValues, specOf } from "./option_table.ts";
import type { Settings } from "./option_types.ts";

export { OptionError } from "./option_kinds.ts";

/** Options of {@linkcode createApp} and `serve()`: the settings, and what only code gives. */
export interface AppOptions extends Settings, RunnerHooks {
  /**
   * Which APIs to serve: `"stream"` (`/execute-code`, `/tool-results`) and `"step"`
   * (`/execute-code-step`). A host that runs one request per invocation serves `["step"]`.
   * @default {["stream", "step"]}
   */
  endpoints?: ("stream" | "step")[];
  /**
   * A runner to use instead of creating one (the app then does not close it).
   * @ignore
   */
  runner?: Runner;
  /**
   * Where log lines go (each execution, step and refused request, and what went wrong), in
   * `logFormat`.
   * @default {console.info, console.warn or console.error, by level}
   */
  log?: (line: string) => void;
}

/** Every option with its value, and the logger they make. */
export interface ResolvedOptions extends OptionValues {
  /** Where the server's log records go. */
  logger: Logger;
}

/**
 * Checks every option given against its bounds and fills in the defaults (computed ones from
 * `machine`); throws an {@linkcode OptionError} naming the first option that cannot be used,
 * alone or with the others (a memory budget smaller than one sandbox).
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./options.ts";
 * const config = resolveOptions({ apiKey: "k", toolCallTimeoutMs: 2000 });
 * console.assert(config.toolCallTimeoutMs === 2000 && config.codeExecutionTimeoutMs === 30_000);
 * ```
 */
export function resolveOptions(
  options: AppOptions,
  machine: Machine = thisMachine,
): ResolvedOptions {
  const given = options as Partial<Record<OptionKey, unknown>>;
  const values: Partial<Record<OptionKey, unknown>> = {};
  const context = {
    machine,
    value: (key: string) => {
      if (!Object.hasOwn(values, key)) throw new Error(`${key} is resolved later in the table`);
      return values[key as OptionKey];
    },
  };
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    const value = given[key];
    if (value !== undefined) {
      if (!spec.kind.valid(value)) {
        throw new OptionError(key, value, (audience) => `expected ${spec.kind.expected(audience)}`);
      }
      values[key] = value;
    } else {
      values[key] = isComputed(spec.default) ? spec.default.of(context) : spec.default;
    }
  }
  const resolved = { ...values, logger: loggerOf(options) } as ResolvedOptions;
  checkCombination(resolved);
  return resolved;
}

/** What the runner is made with: the resolved options it reads, and the hooks. */
export function runnerConfig(config: ResolvedOptions, hooks: RunnerHooks): RunnerConfig {
  return {
    ...hooks,
    poolSize: config.poolSize,
    pythonPoolSize: config.pythonPoolSize ?? LAZY_PYTHON_POOL_SIZE,
    pythonLazy: config.pythonPoolSize === undefined,
    maxHosts: config.maxHosts,
    hostMaxPrograms: { deno: config.hostMaxPrograms, python: config.pythonHostMaxPrograms },
    hostMaxRuns: config.hostMaxRuns,
    hostMaxAgeMs: config.hostMaxAgeMs,
    hostIdleTimeoutMs: config.hostIdleTimeoutMs,
    heapMb: config.heapMb,
    dataMb: config.dataMb,
    pythonDataMb: config.pythonDataMb,
    hostMemoryBytes: {
      deno: hostMemoryBytes(config, "typescript"),
      python: hostMemoryBytes(config, "python"),
    },
    memoryBudgetBytes: config.memoryBudgetMb * 2 ** 20,
    programMemoryBytes: {
      deno: config.sandboxMemoryMb * 2 ** 20,
      python: config.pythonSandboxMemoryMb * 2 ** 20,
    },
    cgroups: config.cgroups,
    denoPath: config.denoPath,
    maxLineLength: config.maxLineLength,
    readyTimeoutMs: config.readyTimeoutMs,
  };
}

/** The logger of these options: `log` as the sink, if given, in `logFormat`. */
export function loggerOf(options: Pick<AppOptions, "log" | "logFormat">): Logger {
  const write = options.log;
  return createLogger({
    ...(options.logFormat ? { format: options.logFormat } : {}),
    ...(write ? { write: (line: string) => write(line) } : {}),
  });
}
