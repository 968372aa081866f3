/**
 * The shapes every benchmark module shares: what it is given ({@linkcode BenchContext}) and what
 * it returns ({@linkcode Section}). A benchmark module exports a {@linkcode BenchModule}; add it to
 * the list in `main.ts` to run it.
 *
 * @module
 */

/** A markdown table: a header row and body rows of already formatted cells. */
export interface Table {
  head: string[];
  rows: string[][];
  /** Column alignment; default: the first column left, the others right (numbers). */
  align?: ("left" | "right")[];
}

/** A target the section checked, and whether this run met it. */
export interface Check {
  /** What is compared, e.g. "tool call p50 / echo p50". */
  what: string;
  /** The target, as text, e.g. "≤ 2×". */
  target: string;
  /** What this run measured, as text. */
  measured: string;
  met: boolean;
}

/** What a benchmark module reports. */
export interface Section {
  title: string;
  /** One or two sentences: what is measured, and against which baseline. */
  description: string;
  tables: Table[];
  /** Free-form remarks, one bullet each (markdown allowed). */
  notes: string[];
  checks: Check[];
}

/** What a benchmark module is given. */
export interface BenchContext {
  /** Iteration scale: 1 for the default run, less for a quick one. */
  readonly scale: number;
  /** `base` iterations scaled by {@linkcode BenchContext.scale}, and at least `min`. */
  n(base: number, min?: number): number;
  /** A progress line on stderr (not in the report). */
  log(message: string): void;
}

/** A benchmark: its command-line name and the function that measures it. */
export interface BenchModule {
  /** Name used to select it on the command line, e.g. `tool_call`. */
  name: string;
  run(ctx: BenchContext): Promise<Section>;
  /** Left out of the default selection (a slow diagnosis): runs only when named. */
  optIn?: boolean;
}
