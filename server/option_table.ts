/**
 * The options of `progtc serve` and `serve()`, each defined once: its TypeScript key (unit in
 * the name), its flag (and so its `PROGTC_*` variable), its kind and bounds, its default (a
 * value, or a function of the machine and the other options), its help. The command line's
 * parser and help, the environment, the settings line, `resolveOptions`, the runner's options
 * and `serve()` all read this table; the declarations of `ServeOptions` are generated from it
 * (`server/option_types.ts`, `deno task options`).
 *
 * The `serve` section's options are in three parts: the server's own (option_server.ts), the
 * sandboxes' (option_sandboxes.ts) and the per-execution limits (option_limits.ts); the values
 * their bounds and defaults derive from are in option_floors.ts. Adding an option is one entry
 * here or in one of them (then `deno task options`).
 *
 * @module
 */
import { maxLineLength } from "../sandbox/program_messages.ts";
import { bytes, count, duration, secret } from "./option_kinds.ts";
import { LIMIT_OPTIONS } from "./option_limits.ts";
import { SANDBOX_OPTIONS } from "./option_sandboxes.ts";
import { SERVER_OPTIONS } from "./option_server.ts";
import { type GroupedSpec, option, type OptionSpec, section } from "./option_spec.ts";
import type { OptionValues } from "./option_types.ts";

export type { OptionValues };

const MiB = 1024 * 1024;
const SECOND = 1000;

/**
 * The table: every option. Sections in the order of the help; within the table, an option
 * whose default is computed from others comes after them.
 */
export const OPTIONS: OptionTable = {
  ...section("serve", { ...SERVER_OPTIONS, ...SANDBOX_OPTIONS, ...LIMIT_OPTIONS }),
  ...section("step", {
    stateSecret: option({
      flag: "state-secret",
      kind: secret("<secret>"),
      default: { text: "derived from the API key", of: ({ value }) => value("apiKey") as string },
      help: "Key that signs state tokens; servers sharing it accept each other's tokens",
      summary: "derived from the API key",
    }),
    maxStateBytes: option({
      flag: "max-state-bytes",
      kind: bytes(1),
      default: 4 * MiB,
      help: "Largest step state, in bytes of JSON, issued or accepted (its token is at most " +
        "~4/3 of it)",
    }),
    stateMaxAgeMs: option({
      flag: "state-max-age",
      kind: duration({ min: 1, max: 366 * 86_400 * SECOND }),
      default: 7 * 86_400 * SECOND,
      help: "How long a state token stays valid (not a timer: up to a year)",
    }),
    warmResumeTtlMs: option({
      flag: "warm-resume-ttl",
      kind: duration({ min: 0 }),
      default: 60 * SECOND,
      help: "How long a paused execution is held to resume without replay; 0 always replays",
    }),
    maxPaused: option({
      flag: "max-paused",
      kind: count(0),
      default: 32,
      help: "Paused executions held at once",
    }),
  }),
  ...section("sessions", {
    maxSessions: option({
      flag: "max-sessions",
      kind: count(0),
      default: 256,
      help: "Sessions open at once (each keeps its realm, and its memory, between programs); " +
        "0: no sessions",
    }),
    sessionIdleTimeoutMs: option({
      flag: "session-idle-timeout",
      kind: duration({ min: 1 }),
      default: 300 * SECOND,
      help: "How long a session waits for its next program before it ends",
    }),
    maxSessionPrograms: option({
      flag: "max-session-programs",
      kind: count(1, 10_000),
      default: 64,
      help: "Programs a step API session may run (its state records each; rebuilding it on " +
        "another instance replays them all)",
    }),
  }),
  ...section("hosts", {
    hostMaxRuns: option({
      flag: "host-max-runs",
      kind: count(1),
      default: 1000,
      help: "Programs per host before it is retired; 1: a new process for every program",
    }),
    hostMaxAgeMs: option({
      flag: "host-max-age",
      kind: duration({ min: 1 }),
      default: 600 * SECOND,
      help: "Age after which a host takes no more programs",
    }),
    // Ready hosts beyond what the pool needs (its size, or the demand of the last minute if
    // higher) are retired after this long unused.
    hostIdleTimeoutMs: option({
      flag: "host-idle-timeout",
      kind: duration({ min: 1 }),
      default: 60 * SECOND,
      help: "How long an unneeded ready host waits before it is retired",
    }),
    maxHosts: option({
      flag: "max-hosts",
      kind: count(1),
      default: {
        text: "enough for max-concurrent + max-paused + max-sessions programs, and two more",
        // Paused step executions and idle sessions hold a slot of a host without an execution slot.
        of: ({ value }) =>
          Math.ceil(
            ((value("maxConcurrent") as number) + (value("maxPaused") as number) +
              (value("maxSessions") as number)) /
              Math.min(
                value("hostMaxPrograms") as number,
                value("pythonHostMaxPrograms") as number,
              ),
          ) + 2,
      },
      help: "Sandbox hosts per language at once",
    }),
  }),
  ...section("code", {
    readyTimeoutMs: option({
      kind: duration({ min: 1 }),
      default: 20 * SECOND,
      help: "How long a sandbox host may take to become ready",
    }),
    maxLineLength: option({
      kind: count(1),
      default: {
        text: "what the largest tool call's arguments need",
        of: ({ value }) => maxLineLength(value("maxToolArgsBytes") as number),
      },
      help: "Longest protocol line accepted from a sandbox, in characters",
    }),
  }),
};

/** An option's key. */
export type OptionKey = keyof OptionValues;

/** Specs of the options `K`, before `section` marks them with their section. */
export type OptionSpecs<K extends OptionKey> = {
  readonly [P in K]: OptionSpec<NonNullable<OptionValues[P]>, OptionValues[P]>;
};

/** The table's type: each option's spec, from its resolved value's type. */
export type OptionTable = {
  readonly [K in OptionKey]: GroupedSpec<NonNullable<OptionValues[K]>, OptionValues[K]>;
};

/** The keys, in the table's order. */
export const OPTION_KEYS: readonly OptionKey[] = Object.keys(OPTIONS) as OptionKey[];

/** The spec of an option, untyped (for code that walks the table). */
export function specOf(key: OptionKey): GroupedSpec<unknown, unknown> {
  return OPTIONS[key] as unknown as GroupedSpec<unknown, unknown>;
}
