/**
 * Settings from the environment: every flag `--some-flag` of `progtc serve` may also be given
 * as `PROGTC_SOME_FLAG`; a flag on the command line wins. And the one-line summary of the
 * effective settings the server logs at start (secrets never in it).
 *
 * @module
 */
import type { ServeOptions } from "./serve.ts";

/** The environment variable of a flag: `code-execution-timeout` → `PROGTC_CODE_EXECUTION_TIMEOUT`. */
export function envName(flag: string): string {
  return `PROGTC_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** A flag's value: a string, or several for a repeatable flag. */
export type FlagValue = string | string[];

/**
 * Fills in, from `env`, the flags of `names` that `values` (the parsed command line) lacks.
 * A repeatable flag (in `repeatable`) takes a comma-separated list. Empty variables count as
 * unset. Returns the merged values and the flags that came from the environment.
 *
 * @example
 * ```ts
 * import { withEnv } from "./config.ts";
 * const { values, fromEnv } = withEnv(
 *   { port: "9000" },
 *   ["port", "code-execution-timeout"],
 *   { PROGTC_PORT: "1", PROGTC_CODE_EXECUTION_TIMEOUT: "5" },
 * );
 * console.assert(values.port === "9000" && values["code-execution-timeout"] === "5");
 * console.assert(fromEnv.join() === "code-execution-timeout");
 * ```
 */
export function withEnv(
  values: Record<string, FlagValue | boolean | undefined>,
  names: readonly string[],
  env: Record<string, string | undefined>,
  repeatable: readonly string[] = [],
): { values: Record<string, FlagValue | boolean | undefined>; fromEnv: string[] } {
  const merged = { ...values };
  const fromEnv: string[] = [];
  for (const name of names) {
    if (merged[name] !== undefined) continue;
    const raw = env[envName(name)];
    if (raw === undefined || raw === "") continue;
    merged[name] = repeatable.includes(name)
      ? raw.split(",").map((s) => s.trim()).filter(Boolean)
      : raw;
    fromEnv.push(name);
  }
  return { values: merged, fromEnv };
}

/** Where the API key came from. */
export type KeySource = "command line" | "environment" | "generated";

/**
 * One line with the effective settings that differ from nothing secret: address, language,
 * timeouts, pools, limits set, where the key came from. Never the key or the state secret.
 *
 * @example
 * ```ts
 * import { settingsSummary } from "./config.ts";
 * const line = settingsSummary({ apiKey: "k-3f9a", port: 8000 }, "environment");
 * console.assert(!line.includes("k-3f9a") && line.includes("port=8000 "));
 * ```
 */
export function settingsSummary(options: ServeOptions, keySource: KeySource): string {
  const shown: [string, unknown][] = [
    ["host", options.host ?? "127.0.0.1"],
    ["port", options.port ?? 8000],
    ["language", options.language ?? "typescript"],
    ["code-execution-timeout", `${options.codeExecutionTimeout ?? 30}s`],
    ["tool-call-timeout", `${options.toolCallTimeout ?? 10}s`],
    ["drain-timeout", `${options.drainTimeout ?? 25}s`],
    ["max-concurrent", options.maxConcurrent ?? 64],
    ["pool-size", options.poolSize ?? 2],
    ["python-pool-size", options.pythonPoolSize ?? "on first use"],
    ["log-format", options.logFormat ?? "text"],
    ["cors-origin", options.corsOrigins?.length ? options.corsOrigins.join(",") : "none"],
    ["api-key", `from the ${keySource === "generated" ? "generator" : keySource}`],
    ["state-secret", options.stateSecret ? "set" : "derived from the API key"],
  ];
  return `settings: ${shown.map(([k, v]) => `${k}=${String(v).replaceAll(" ", "_")}`).join(" ")}`;
}
