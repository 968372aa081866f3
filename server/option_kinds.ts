/**
 * The kinds of value an option of `progtc serve` holds: how each is read from text (a flag or a
 * `PROGTC_*` variable), checked against its bounds, and shown. One convention for units: a
 * TypeScript option's name ends with its unit (`toolCallTimeoutMs`, `heapMb` in MiB,
 * `maxBodyBytes`); the command line keeps the reference's flags, and gives durations in seconds
 * (`--tool-call-timeout 10`). Each kind says what it allows in either unit, for the one line a
 * bad value gets.
 *
 * @module
 */

/** Who reads a message: an operator at the command line, or a program calling `serve()`. */
export type Audience = "cli" | "code";

/** A kind of option value: `T` in TypeScript's units. */
export interface Kind<T> {
  /** The value's placeholder in the help: `<s>`, `<MiB>`. */
  readonly placeholder: string;
  /** The TypeScript type of the value, as written in the options' declarations. */
  readonly tsType: string;
  /** The unit of the TypeScript value, for its documentation (`milliseconds`), if any. */
  readonly unit?: string;
  /** Reads text (command line units); `undefined` when it is not a value of this kind. */
  parse(text: string): T | undefined;
  /** Whether a value (TypeScript units) is within the bounds. */
  valid(value: unknown): value is T;
  /** What is allowed, in the audience's units: "seconds from 0.001 to 2147483.647 (…)". */
  expected(audience: Audience): string;
  /** The value in command-line units, for the help and the settings line. */
  show(value: T): string;
  /** The unit the settings line writes after a value (`s` for seconds), if any. */
  readonly suffix?: string;
}

/**
 * The longest delay a timer keeps: 2^31-1 ms (about 24.8 days). Deno, like browsers and Node,
 * fires a longer `setTimeout` after 1 ms, so every duration an option feeds to a timer is
 * bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const MiB = 1024 * 1024;

/** A whole number: digits only (no sign, no exponent, no fraction). */
const WHOLE = /^[0-9]+$/;
/** A decimal number: `10`, `0.5`, `.5`. */
const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;

/** How long a duration is in words: "about 24.8 days". */
function about(ms: number): string {
  const tenths = (unit: number) => Math.floor(ms / unit * 10) / 10;
  if (ms >= 86_400_000) return `about ${tenths(86_400_000)} days`;
  if (ms >= 3_600_000) return `about ${tenths(3_600_000)} hours`;
  return `${ms / 1000} s`;
}

/**
 * A duration: seconds (decimals allowed) on the command line, milliseconds in TypeScript,
 * from `min` to `max` ms. `max` defaults to the timer range; `why` says where a larger `max`
 * comes from (a duration that is not a timer).
 */
export function duration(bounds: { min: number; max?: number }): Kind<number> {
  const { min } = bounds;
  const max = bounds.max ?? MAX_TIMER_MS;
  const reason = max === MAX_TIMER_MS ? "the longest timer" : about(max);
  return {
    placeholder: "<s>",
    tsType: "number",
    unit: "milliseconds",
    parse: (text) => DECIMAL.test(text) ? Math.round(Number(text) * 1e6) / 1e3 : undefined,
    valid: (value): value is number =>
      typeof value === "number" && Number.isFinite(value) && value >= min && value <= max,
    expected: (audience) =>
      audience === "cli"
        ? `seconds from ${min / 1000} to ${max / 1000} (${
          max === MAX_TIMER_MS ? `${about(max)}, ${reason}` : reason
        })`
        : `milliseconds from ${min} to ${max} (${
          max === MAX_TIMER_MS ? `${about(max)}, ${reason}` : reason
        })`,
    show: (value) => String(value / 1000),
    suffix: "s",
  };
}

/**
 * A whole number from `min` to `max` of `unit` (counts and ports have none); `floor` says why
 * nothing below `min` works, when that is not obvious.
 */
export function whole(
  bounds: { min: number; max?: number; floor?: string },
  unit: { placeholder: string; name?: string } = { placeholder: "<n>" },
): Kind<number> {
  const { min } = bounds;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const noun = unit.name ?? "a whole number";
  const range = max === Number.MAX_SAFE_INTEGER
    ? `${noun} of at least ${min}`
    : `${noun} from ${min} to ${max}`;
  const floor = bounds.floor ? ` (below ${min}, ${bounds.floor})` : "";
  return {
    placeholder: unit.placeholder,
    tsType: "number",
    ...(unit.name ? { unit: unit.name } : {}),
    parse: (text) => WHOLE.test(text) ? Number(text) : undefined,
    valid: (value): value is number =>
      typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max,
    expected: () => `${range}${floor}`,
    show: (value) => String(value),
  };
}

/** A count of things (connections, hosts, calls), at least `min`. */
export function count(min: number, max?: number): Kind<number> {
  return whole(max === undefined ? { min } : { min, max });
}

/** Memory in MiB (whole), at least `min`; `floor` says why less cannot work. */
export function mebibytes(min: number, floor?: string): Kind<number> {
  return whole({ min, max: 2 ** 22, ...(floor ? { floor } : {}) }, {
    placeholder: "<MiB>",
    name: "MiB",
  });
}

/** A size in bytes (whole), at least `min`; `floor` says why less cannot work. */
export function bytes(min: number, floor?: string): Kind<number> {
  return whole({ min, max: 2 ** 40, ...(floor ? { floor } : {}) }, {
    placeholder: "<bytes>",
    name: "bytes",
  });
}

/** One of a few words. */
export function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  const list = values.length === 2
    ? `${values[0]} or ${values[1]}`
    : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
  return {
    placeholder: `<${values.join("|")}>`,
    tsType: values.map((v) => JSON.stringify(v)).join(" | "),
    parse: (text) => (values as readonly string[]).includes(text) ? text as T : undefined,
    valid: (value): value is T => (values as readonly unknown[]).includes(value),
    expected: () => values.length === 2 ? list : `one of ${list}`,
    show: (value) => value,
  };
}

/** Text that is not empty (an address, a path). */
export function text(placeholder: string, what: string): Kind<string> {
  return {
    placeholder,
    tsType: "string",
    parse: (value) => value === "" ? undefined : value,
    valid: (value): value is string => typeof value === "string" && value !== "",
    expected: () => what,
    show: (value) => value,
  };
}

/** A secret: like text, but never shown. */
export function secret(placeholder: string): Kind<string> {
  return { ...text(placeholder, "a text that is not empty"), show: () => "set" };
}

const ORIGIN = /^https?:\/\/[^/\s]+$/;

/** Browser origins (`https://app.example`): repeatable, or a comma-separated list. */
export function origins(): Kind<string[]> {
  return {
    placeholder: "<origin>",
    tsType: "string[]",
    parse: (value) => {
      const list = value.split(",").map((o) => o.trim()).filter(Boolean);
      return list.every((o) => ORIGIN.test(o)) ? list : undefined;
    },
    valid: (value): value is string[] =>
      Array.isArray(value) && value.every((o) => typeof o === "string" && ORIGIN.test(o)),
    expected: () => "origins as scheme://host[:port], without a path, comma-separated",
    show: (value) => value.length > 0 ? value.join(",") : "none",
  };
}

/** `bytes` as "N MiB" when it is a whole number of MiB, else "N bytes". */
export function showBytes(value: number): string {
  return value % MiB === 0 && value > 0 ? `${value / MiB} MiB` : `${value} bytes`;
}

/**
 * A value an option cannot take, or a start that failed because of one (a port in use, a
 * `--host` that does not resolve, a missing Deno binary). It names the option by its TypeScript
 * key; the command line names its flag or `PROGTC_*` variable instead (`describe`).
 */
export class OptionError extends RangeError {
  /** The option's key (`toolCallTimeoutMs`). */
  readonly key: string;
  /** The value as given (TypeScript units), or `undefined` when none was. */
  readonly value: unknown;
  /** What is allowed, or what went wrong, for each audience. */
  readonly expected: (audience: Audience) => string;

  /** An error for `key` = `value`; `expected` says what is allowed (or went wrong). */
  constructor(key: string, value: unknown, expected: string | ((audience: Audience) => string)) {
    const say = typeof expected === "string" ? () => expected : expected;
    super(
      `Cannot create the server: ${key}${value === undefined ? "" : ` = ${show(value)}`}: ${
        say("code")
      }`,
    );
    this.name = "OptionError";
    this.key = key;
    this.value = value;
    this.expected = say;
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
