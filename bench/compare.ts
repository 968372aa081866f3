/**
 * The comparison of issue 8: ours (TypeScript and Python programs, one server with the defaults
 * of `deno task serve`), the reference progtc 0.2.0 server and the echo, each in its own
 * process, driven by the same raw client (`execute`, `_client.ts`). Sections:
 *
 * - `cpu`: CPU per trivial execution, server and all its descendants, from /proc;
 * - `throughput`: executions/s of a 1-tool-call program with 1, 8 and 32 concurrent clients;
 * - `latency`: trivial executions back to back (p50/p95), and each after an idle pause;
 * - `round_trip`: the gap between consecutive tool-call frames of a loop of sequential calls;
 * - `memory`: PSS per execution held on a tool call.
 *
 * Each section records its numbers for the summary and the targets ({@linkcode summary}).
 *
 * Each section is a file of its own (`cpu.ts`, `throughput.ts`, `latency.ts`, `round_trip.ts`,
 * `memory.ts`); what they share is `_compare.ts`, and the summary `compare_summary.ts`.
 *
 * @module
 */
import { cpu } from "./cpu.ts";
import { latency } from "./latency.ts";
import { memory } from "./memory.ts";
import { roundTrip } from "./round_trip.ts";
import { throughput } from "./throughput.ts";
import type { Ctx, Section } from "./main.ts";

export { summary } from "./compare_summary.ts";

/** The comparison sections, in the order a full run measures them. */
export const SECTIONS: { name: string; run: (ctx: Ctx) => Promise<Section> }[] = [
  { name: "cpu", run: cpu },
  { name: "throughput", run: throughput },
  { name: "latency", run: latency },
  { name: "round_trip", run: roundTrip },
  { name: "memory", run: memory },
];
