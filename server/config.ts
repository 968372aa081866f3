/**
 * Settings from the environment and the settings line: every flag `--some-flag` of `progtc
 * serve` may also be given as `PROGTC_SOME_FLAG` (a flag on the command line wins), and the one
 * line of effective settings the server logs at start (secrets never in it).
 *
 * @module
 */
import { resolveOptions } from "./options.ts";
import { OPTION_KEYS, specOf } from "./option_table.ts";
import type { ServeOptions } from "./serve.ts";

/** The environment variable of a flag: `code-execution-timeout` → `PROGTC_CODE_EXECUTION_TIMEOUT`. */
export function envName(flag: string): string {
  return `PROGTC_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** Where the API key came from. */
export type KeySource = "command line" | "environment" | "generated";

/**
 * One line with the effective settings the table marks for it (address, language, timeouts,
 * pools, where the key came from), in the command line's units. Never the key or the state
 * secret.
 *
 * @example
 * ```ts
 * import { settingsSummary } from "./config.ts";
 * const line = settingsSummary({ apiKey: "k-3f9a", port: 8000 }, "environment");
 * console.assert(!line.includes("k-3f9a") && line.includes("port=8000 "));
 * ```
 */
export function settingsSummary(options: ServeOptions, keySource: KeySource): string {
  const resolved = resolveOptions(options) as unknown as Record<string, unknown>;
  const given = options as unknown as Record<string, unknown>;
  const shown: string[] = [];
  for (const key of OPTION_KEYS) {
    const spec = specOf(key);
    if (!spec.summary || !spec.flag) continue;
    let value: string;
    if (key === "apiKey") {
      value = `from the ${keySource === "generated" ? "generator" : keySource}`;
    } else if (typeof spec.summary === "string" && given[key] === undefined) {
      value = spec.summary;
    } else {
      value = `${spec.kind.show(resolved[key])}${spec.kind.suffix ?? ""}`;
    }
    shown.push(`${spec.flag}=${value.replaceAll(" ", "_")}`);
  }
  return `settings: ${shown.join(" ")}`;
}
