/**
 * `progtc serve`'s arguments, read with the options table: flags (`--name value`,
 * `--name=value`; a value may start with `-`, so `--code-execution-timeout -1` is a bad value,
 * not a missing one), then `PROGTC_*` variables for the flags not given, each checked against
 * its bounds. A bad value is one line naming the flag or the variable, the value and what is
 * allowed; so is an option `serve()` refuses later ({@linkcode describeOptionError}).
 *
 * @module
 */
import { envName, type KeySource } from "./config.ts";
import type { OptionError } from "./option_kinds.ts";
import { isComputed } from "./option_spec.ts";
import { OPTION_KEYS, type OptionKey, specOf } from "./option_table.ts";
import type { ServeOptions } from "./serve.ts";

/** A command-line mistake: one line, exit code 2. */
export class UsageError extends Error {
  /** A usage error saying `message`. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Where an option's value came from: a flag, or a variable, and its text there. */
export type OptionSource = { flag: string; text: string } | { variable: string; text: string };

/** What {@linkcode parseServeArgs} found. */
export interface ParsedServeArgs {
  /** The server's options. */
  options: ServeOptions;
  /** No key was given: `options.apiKey` was generated for this run. */
  generatedKey: boolean;
  /** Where the API key came from. */
  keySource: KeySource;
  /** Flags whose values came from `PROGTC_*` variables. */
  fromEnv: string[];
  /** Things to tell the operator (a secret on the command line). */
  warnings: string[];
  /** Where each option given came from (by its key: `toolCallTimeoutMs`), to name it in an error. */
  sources: Partial<Record<string, OptionSource>>;
}

const BY_FLAG = new Map(
  OPTION_KEYS.flatMap((key) => {
    const flag = specOf(key).flag;
    return flag ? [[flag, key] as const] : [];
  }),
);

/** Flags whose empty value counts as not given (an empty secret: the default applies). */
const EMPTY_IS_UNSET = new Set(["api-key", "state-secret"]);
const REPEATABLE = new Set(["cors-origin"]);

/**
 * Parses the arguments of `progtc serve` into server options. Every flag missing from `args`
 * is read from `env` as `PROGTC_<FLAG>` (`--drain-timeout` from `PROGTC_DRAIN_TIMEOUT`); the
 * API key falls back to a generated one (`generatedKey: true`). Throws a {@linkcode UsageError}
 * whose message is the one line to print.
 *
 * @example
 * ```ts
 * import { parseServeArgs } from "./serve_args.ts";
 * const { options } = parseServeArgs(["--port", "9000"], { PROGTC_API_KEY: "k" });
 * console.assert(options.port === 9000 && options.apiKey === "k");
 * ```
 */
export function parseServeArgs(
  args: string[],
  env: Record<string, string | undefined>,
): ParsedServeArgs {
  const texts = readFlags(args);
  const sources: Partial<Record<string, OptionSource>> = {};
  const fromEnv: string[] = [];
  const options: Record<string, unknown> = {};
  for (const [flag, key] of BY_FLAG) {
    const onLine = texts.get(flag);
    const variable = envName(flag);
    const raw = onLine ??
      (env[variable] !== undefined && env[variable] !== "" ? [env[variable]!] : []);
    if (raw.length === 0 || (EMPTY_IS_UNSET.has(flag) && raw.every((t) => t === ""))) continue;
    if (onLine === undefined) fromEnv.push(flag);
    const kind = specOf(key).kind;
    const values = raw.map((text) => {
      const source: OptionSource = onLine !== undefined ? { flag, text } : { variable, text };
      sources[key] = source;
      const value = kind.parse(text);
      if (value === undefined || !kind.valid(value)) {
        throw new UsageError(`${sourceText(source)}: expected ${kind.expected("cli")}`);
      }
      return value;
    });
    options[key] = REPEATABLE.has(flag) ? values.flat() : values.at(-1);
  }
  const warnings = ["api-key", "state-secret"].filter((flag) => texts.get(flag)?.some(Boolean))
    .map((flag) =>
      `--${flag} was given on the command line, where every user of this machine can read ` +
      `it (ps, /proc) and your shell keeps it: set ${envName(flag)} instead`
    );
  const generatedKey = options.apiKey === undefined;
  const keySource: KeySource = generatedKey
    ? "generated"
    : texts.has("api-key")
    ? "command line"
    : "environment";
  if (generatedKey) options.apiKey = crypto.randomUUID().replaceAll("-", "");
  return {
    options: options as unknown as ServeOptions,
    generatedKey,
    keySource,
    fromEnv,
    warnings,
    sources,
  };
}

/** The flags' texts, by flag name (a repeated flag keeps every text). */
function readFlags(args: string[]): Map<string, string[]> {
  const texts = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      throw new UsageError(`${arg}: unexpected argument (options start with --)`);
    }
    const equals = arg.indexOf("=");
    const flag = arg.slice(2, equals === -1 ? undefined : equals);
    const key = BY_FLAG.get(flag);
    if (key === undefined) {
      throw new UsageError(`--${flag}: unknown option (progtc serve --help lists them)`);
    }
    let text: string;
    if (equals !== -1) {
      text = arg.slice(equals + 1);
    } else {
      const next = args[i + 1];
      // The next argument is this flag's value, even when it starts with `-` (`-1`), unless
      // it is another option: then this one's value was forgotten.
      if (
        next === undefined || (next.startsWith("--") && BY_FLAG.has(next.slice(2).split("=")[0]!))
      ) {
        throw new UsageError(`--${flag}: expects a value, ${specOf(key).kind.expected("cli")}`);
      }
      text = next;
      i++;
    }
    texts.set(flag, [...texts.get(flag) ?? [], text]);
  }
  return texts;
}

function sourceText(source: OptionSource): string {
  return "flag" in source
    ? `--${source.flag} ${source.text === "" ? '""' : source.text}`
    : `${source.variable}=${source.text}`;
}

/**
 * The one line for an option `serve()` refused (or a start that failed because of it), naming
 * the flag or variable it came from, its value and what is allowed.
 */
export function describeOptionError(
  error: OptionError,
  sources: Partial<Record<string, OptionSource>>,
): string {
  const key = error.key as OptionKey;
  const spec = specOf(key);
  const source = sources[key];
  const name = source
    ? sourceText(source)
    : spec.flag
    ? `--${spec.flag} ${
      error.value === undefined ? "" : `${spec.kind.show(error.value as never)} `
    }(the default)`
    : key;
  return `${name}: ${error.expected("cli")}`;
}

const COLUMN = 32;
const WIDTH = 92;

/** The options part of `progtc serve --help`, from the table. */
export function serveHelp(): string {
  const sections: [string, string][] = [
    ["serve", "Options of serve (defaults in brackets):"],
    ["hosts", "Sandbox hosts (each runs several programs at once, each in a fresh worker):"],
    ["step", "Step API (POST /execute-code-step):"],
    ["sessions", "Sessions (X-Progtc-Session: programs that keep what they define):"],
  ];
  return sections.map(([group, title]) => {
    const lines = [title];
    for (const key of OPTION_KEYS) {
      const spec = specOf(key);
      if (spec.group !== group || !spec.flag) continue;
      const head = `  --${spec.flag} ${spec.kind.placeholder}`;
      const fallback = isComputed(spec.default)
        ? spec.default.text
        : spec.kind.show(spec.default as never);
      const words = `${spec.help} [${fallback === "" ? "none" : fallback}]`.split(" ");
      const own = head.length >= COLUMN - 1;
      let line = own ? `${head}\n${"".padEnd(COLUMN)}` : head.padEnd(COLUMN);
      let width = COLUMN;
      for (const [index, word] of words.entries()) {
        if (index > 0 && width + 1 + word.length > WIDTH) {
          line += `\n${"".padEnd(COLUMN)}${word}`;
          width = COLUMN + word.length;
        } else {
          line += `${index > 0 ? " " : ""}${word}`;
          width += (index > 0 ? 1 : 0) + word.length;
        }
      }
      lines.push(line);
    }
    return lines.join("\n");
  }).join("\n\n");
}
