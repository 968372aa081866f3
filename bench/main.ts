/**
 * The benchmark harness: `deno task bench [section...] [--quick | --scale X] [--out FILE]
 * [--ours DIR]`. Starts every server in a process of its own (ours, the reference progtc
 * server, the echo), drives them over HTTP with one raw client, writes BENCHMARKS.md (overwritten
 * each run) and prints it. See bench/README.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { execute, expectSuccess } from "./_client.ts";
import { describeMachine, loadavg, type Table } from "./_lib.ts";
import {
  oursCommand,
  oursRoot,
  REFERENCE_VERSION,
  type Server,
  setOursRoot,
  settle,
  setUp,
  startEcho,
  startOurs,
  startReference,
} from "./_servers.ts";
import { SECTIONS as COMPARE } from "./compare.ts";
import { stepApi } from "./step_api.ts";
import { loadTest } from "./load_test.ts";
import { idleMemory } from "./idle_memory.ts";
import { soak } from "./soak.ts";
import { stalls } from "./stalls.ts";
import { sseReader } from "./sse_reader.ts";
import { mcpTokens } from "./mcp_tokens.ts";
import { capacity } from "./capacity.ts";
import { floors } from "./floors.ts";
import { sessions } from "./sessions.ts";
import { stepSessions } from "./step_sessions.ts";
import { renderReport } from "./render_report.ts";

/** What a section reports. */
export interface Section {
  title: string;
  /** What is measured, how, against what. */
  description: string;
  tables: Table[];
  /** Remarks, one bullet each. */
  notes: string[];
  /** Targets the section checked (besides issue 8's, which the summary checks). */
  checks?: Check[];
}

/** A target and whether this run met it (undefined: could not tell). */
export interface Check {
  group: string;
  what: string;
  wanted: string;
  measured: string;
  met: boolean | undefined;
  /** Why it was missed, from this run's numbers. */
  why?: string;
}

/** What a section is given. */
export interface Ctx {
  /** Iteration scale: 1 by default, 0.2 with --quick. */
  scale: number;
  quick: boolean;
  /** `base` iterations scaled, at least `min`. */
  n(base: number, min?: number): number;
  /** A progress line on stderr. */
  log(message: string): void;
  /** A shared server, started (and warmed up) on first use, stopped at the end of the run. */
  server(name: SharedServer): Promise<Server>;
}

type SharedServer = "ours" | "reference" | "echo";

const SECTIONS: { name: string; run: (ctx: Ctx) => Promise<Section> }[] = [
  ...COMPARE,
  { name: "floors", run: floors },
  { name: "capacity", run: capacity },
  { name: "step_api", run: stepApi },
  { name: "sessions", run: sessions },
  { name: "step_sessions", run: stepSessions },
  { name: "load_test", run: loadTest },
  { name: "idle_memory", run: idleMemory },
  { name: "sse_reader", run: sseReader },
  { name: "stalls", run: stalls },
  { name: "soak", run: soak },
  { name: "mcp", run: mcpTokens },
];

const USAGE = `Usage: deno task bench [section...] [options]

Sections (default: all): ${SECTIONS.map((s) => s.name).join(", ")}

Options:
  --quick       Fewer iterations and shorter windows, for development (scale 0.2)
  --scale <x>   Multiply iteration counts by x [1]
  --out <file>  Where to write the report; "-" writes none [BENCHMARKS.md]
  --ours <dir>  The progtc for Deno checkout to measure as "ours" [this one]
  -h, --help    This text`;
/** Runs the harness; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        quick: { type: "boolean" },
        scale: { type: "string" },
        out: { type: "string" },
        ours: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const scale = values.scale !== undefined ? Number(values.scale) : values.quick ? 0.2 : 1;
  const unknown = positionals.filter((p) => p !== "all" && !SECTIONS.some((s) => s.name === p));
  if (!(scale > 0 && Number.isFinite(scale)) || unknown.length > 0) {
    console.error(
      `Unknown section or bad --scale: ${unknown.join(", ") || values.scale}\n\n${USAGE}`,
    );
    return 2;
  }
  if (values.ours) setOursRoot(values.ours);
  const selected = positionals.length === 0 || positionals.includes("all")
    ? SECTIONS
    : SECTIONS.filter((s) => positionals.includes(s.name));

  const started = performance.now();
  const log = (message: string) =>
    console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`);
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const loadStart = await loadavg();
  const machine = await describeMachine(oursRoot);

  const shared = new Map<SharedServer, Promise<Server>>();
  const ctx: Ctx = {
    scale,
    quick: scale < 1,
    n: (base, min = 1) => Math.max(min, Math.round(base * scale)),
    log,
    server(name) {
      let server = shared.get(name);
      if (!server) {
        server = startShared(name, log);
        shared.set(name, server);
      }
      return server;
    },
  };
  const stopAll = async () => {
    for (const server of shared.values()) await server.then((s) => s.stop(), () => {});
  };
  const onSignal = () => void stopAll().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const reports: { name: string; load: string; section: Section }[] = [];
  try {
    await setUp(log);
    for (const { name, run } of selected) {
      const load = await loadavg();
      log(`${name} (load average ${load})`);
      try {
        reports.push({ name, load, section: await run(ctx) });
      } catch (error) {
        const text = error instanceof Error ? error.stack ?? error.message : String(error);
        log(`${name} failed: ${text}`);
        reports.push({
          name,
          load,
          section: {
            title: `${name} (failed)`,
            description: "This section failed in this run:",
            tables: [],
            notes: ["```\n" + text + "\n```"],
            checks: [{ group: name, what: name, wanted: "runs", measured: "failed", met: false }],
          },
        });
      }
    }
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const header: [string, string][] = [
    ...machine,
    ["date", date],
    ["load average (1/5/15 min)", `${loadStart} at start, ${await loadavg()} at end`],
    ["sections", `${selected.map((s) => s.name).join(", ")} (iteration scale ${scale})`],
    ["duration", `${((performance.now() - started) / 1000).toFixed(0)} s`],
    ["ours", `\`${await oursCommand()}\``],
    ["reference", `\`progtc serve --port 0 --api-key K\` (progtc[server]==${REFERENCE_VERSION})`],
  ];
  const report = renderReport(["deno task bench", ...args].join(" "), header, reports);
  console.log(report);
  const out = values.out ?? new URL("../BENCHMARKS.md", import.meta.url).pathname;
  if (out !== "-") {
    await Deno.writeTextFile(out, report);
    log(`wrote ${out}`);
  }
  return reports.some((r) => r.section.title.endsWith("(failed)")) ? 1 : 0;
}

async function startShared(name: SharedServer, log: (message: string) => void): Promise<Server> {
  log(`starting ${name}`);
  const server = name === "ours"
    ? await startOurs()
    : name === "reference"
    ? await startReference()
    : await startEcho();
  // Warm up (not measured): the first executions of each kind, then a quiet tree.
  const warm = name === "ours"
    ? [
      { code: "console.log(1)", tool_names: [] },
      { code: "print(1)", tool_names: [], language: "python" },
    ]
    : name === "reference"
    ? [{ code: "print(1)", tool_names: [] }]
    : [{ code: "", tool_names: [], echo: { stdout: "1\n" } }];
  for (let i = 0; i < 3; i++) {
    for (const body of warm) expectSuccess(await execute(server, body), "1\n", `${name} warm-up`);
  }
  await settle(server);
  return server;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
