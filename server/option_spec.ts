/**
 * What one option of the options table is: its flag, kind, default (a value, or computed at
 * start from the machine and the options before it), help, and section.
 *
 * @module
 */
import type { Machine } from "./machine.ts";
import type { Kind } from "./option_kinds.ts";

/** Where an option is listed in the help; `code` options have no flag. */
export type OptionGroup = "serve" | "hosts" | "step" | "sessions" | "code";

/** What a computed default may read: the machine, and the options resolved before it. */
export interface DefaultContext {
  /** The machine the server starts on. */
  readonly machine: Machine;
  /** The resolved value of an option listed earlier in the table. */
  value(key: string): unknown;
}

/** A default computed at start. */
export interface Computed<T> {
  /** What it is, for the help and the declarations: "half the memory available at start". */
  readonly text: string;
  /** Computes it. */
  of(context: DefaultContext): T;
}

/** One option. `T` is its value; `D` what it resolves to (`T`, or `T | undefined`). */
export interface OptionSpec<T, D = T> {
  /** The flag of `progtc serve`, without `--`; none for options only code can set. */
  readonly flag?: string;
  /** Its kind: how it is read, checked and shown. */
  readonly kind: Kind<T>;
  /** Its default. */
  readonly default: D | Computed<D>;
  /** What it does (unit-neutral: the kind says the unit). */
  readonly help: string;
  /** In the settings line at start; a string is what to show when it is not given. */
  readonly summary?: true | string;
}

/** An option of a section of the table. */
export type GroupedSpec<T, D = T> = OptionSpec<T, D> & {
  readonly group: OptionGroup;
};

/** An option (a function, so that its value's type comes from its kind alone). */
export function option<T>(spec: OptionSpec<T, NoInfer<T>>): OptionSpec<T> {
  return spec;
}

/** The computation of a default that is no value: the option stays `undefined`. */
export const UNSET = (): undefined => undefined;

/**
 * An option that may stay unset; `unset` says what happens then (`"1, started by the first
 * Python program"`).
 */
export function optional<T>(
  spec: Omit<OptionSpec<T>, "default"> & { unset: string },
): OptionSpec<T, T | undefined> {
  const { unset, ...rest } = spec;
  return { ...rest, default: { text: unset, of: UNSET } };
}

/** The options of one section of the help, marked with it. */
// deno-lint-ignore no-explicit-any
export function section<S extends Record<string, OptionSpec<any, any>>>(
  group: OptionGroup,
  specs: S,
): { [K in keyof S]: S[K] & { readonly group: OptionGroup } } {
  return Object.fromEntries(
    Object.entries(specs).map(([key, spec]) => [key, { ...spec, group }]),
  ) as { [K in keyof S]: S[K] & { readonly group: OptionGroup } };
}

/** Whether a default is computed at start. */
export function isComputed<T>(value: T | Computed<T>): value is Computed<T> {
  return typeof value === "object" && value !== null && "of" in value && "text" in value;
}
