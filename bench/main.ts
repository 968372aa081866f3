/**
 * The benchmark harness: `deno task bench [section...] [--scale X | --quick] [--out FILE]`.
 * Runs the selected benchmark modules one after another, writes BENCHMARKS.md (overwritten each
 * run) and prints the same report.
 *
 * To add a benchmark: write a module that exports a {@linkcode BenchModule} (see `_types.ts`) and
 * append it to {@linkcode MODULES}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeMachine, loadavg } from "./_machine.ts";
import { renderReport } from "./_markdown.ts";
import { howToRead } from "./_how_to_read.ts";
import type { BenchContext, BenchModule, Section } from "./_types.ts";
import { toolCall } from "./tool_call.ts";
import { toolCallHops } from "./tool_call_hops.ts";
import { trivialExecution } from "./trivial_execution.ts";
import { idleMemory } from "./idle_memory.ts";
import { loadTest } from "./load_test.ts";
import { stepApi } from "./step_api.ts";
import { pythonBench } from "./python_bench.ts";
import { memoryGrowth } from "./memory_growth.ts";

/** Every benchmark, in the order a full run measures them (opt-in ones only when named). */
export const MODULES: BenchModule[] = [
  toolCall,
  toolCallHops,
  trivialExecution,
  stepApi,
  pythonBench,
  idleMemory,
  loadTest,
  memoryGrowth,
];

const USAGE = `Usage: deno task bench [section...] [options]

Sections (default: all but the opt-in ones): ${
  MODULES.filter((m) => !m.optIn).map((m) => m.name).join(", ")
}
Opt-in sections (run only when named): ${
  MODULES.filter((m) => m.optIn).map((m) => m.name).join(", ")
}

Options:
  --scale <x>   Multiply iteration counts by x [1]
  --quick       Same as --scale 0.2
  --out <file>  Where to write the report; "-" writes none [BENCHMARKS.md]
  -h, --help    This text`;

/** Runs the harness; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        scale: { type: "string" },
        quick: { type: "boolean" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const scale = values.scale !== undefined ? Number(values.scale) : values.quick ? 0.2 : 1;
  if (!(scale > 0 && Number.isFinite(scale))) {
    console.error(`Invalid value for --scale: ${values.scale}\n\n${USAGE}`);
    return 2;
  }
  const unknown = positionals.filter((name) =>
    name !== "all" && !MODULES.some((m) => m.name === name)
  );
  if (unknown.length > 0) {
    console.error(`Unknown section: ${unknown.join(", ")}\n\n${USAGE}`);
    return 2;
  }
  const selected = positionals.includes("all")
    ? MODULES
    : positionals.length > 0
    ? MODULES.filter((m) => positionals.includes(m.name))
    : MODULES.filter((m) => !m.optIn);

  const started = performance.now();
  const ctx: BenchContext = {
    scale,
    n: (base, min = 1) => Math.max(min, Math.round(base * scale)),
    log: (message) =>
      console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`),
  };
  const machine = await describeMachine();
  const sections: Section[] = [];
  for (const module of selected) {
    ctx.log(`running ${module.name}`);
    try {
      sections.push(await module.run(ctx));
    } catch (error) {
      ctx.log(`${module.name} failed: ${error instanceof Error ? error.stack : error}`);
      sections.push({
        title: `${module.name} (failed)`,
        description: "This benchmark failed in this run:",
        tables: [],
        notes: ["```\n" + String(error instanceof Error ? error.stack : error) + "\n```"],
        checks: [{ what: module.name, target: "runs", measured: "failed", met: false }],
      });
    }
  }
  const report = renderReport(
    {
      machine,
      loadEnd: await loadavg(),
      scale,
      selected: selected.map((m) => m.name),
      seconds: (performance.now() - started) / 1000,
      command: ["deno task bench", ...args].join(" "),
    },
    sections,
    howToRead(sections, scale),
  );
  console.log(report);
  const out = values.out ?? new URL("../BENCHMARKS.md", import.meta.url).pathname;
  if (out !== "-") {
    await Deno.writeTextFile(out, report);
    ctx.log(`wrote ${out}`);
  }
  return sections.some((s) => s.title.endsWith("(failed)")) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
