/**
 * The report of a benchmark run (BENCHMARKS.md): the run's header, the summary and targets of
 * issue 8, the other checks, how to read it, and every section's description, tables and notes.
 *
 * @module
 */
import { renderTable, type Table } from "./_lib.ts";
import { REFERENCE_VERSION } from "./_servers.ts";
import { summary } from "./compare.ts";
import type { Check, Section } from "./main.ts";

const HOW_TO_READ = [
  "**Black box.** Every server runs in a process of its own, started by the harness on port 0 " +
  "and stopped at the end; the bench talks to it over HTTP only, with one raw client for all " +
  "(POST /execute-code, the event stream read to its end, each tool call answered with POST " +
  "/tool-results), and checks every result (type `success`, the exact stdout), so a broken " +
  "server cannot produce good numbers. CPU and memory come from /proc for the server process " +
  "and all its descendants (the sandboxes), never from inside a server.",
  "**Ours** is one server started like `deno task serve` (same environment, V8 flags and " +
  "permissions, default options): TypeScript programs by default, Python ones with " +
  '`"language": "python"` in the request. **The reference** is progtc ' +
  `${REFERENCE_VERSION}'s own server from PyPI (FastAPI on uvicorn): it runs each program in a ` +
  "fresh Python process, unsandboxed, and polls its queues (about 100 ms per tool call). **The " +
  "echo** is a bare Deno SSE server with the same wire protocol and no program behind it: an " +
  "event goes out, the client POSTs back, the next event goes out; it is the floor of an HTTP + " +
  "SSE round trip on this machine.",
  "**Ratios.** `ours Python / reference` divides ours by the reference (for throughput higher is " +
  "better, for times and CPU lower is better); `× echo` divides a round trip by the echo's, " +
  "measured in the same run, interleaved. Compare ratios between runs rather than absolute " +
  "numbers.",
  "**Noise.** The machine is small and may be shared: the load average at the start of the run " +
  "and of each section is shown. Servers are interleaved within each section (rounds), each " +
  "measurement starts once the server's process tree is quiet, p95s mostly measure the " +
  "neighbours.",
];

const yesNo = (met: boolean | undefined) => (met === undefined ? "n/a" : met ? "yes" : "**no**");

function checksTable(checks: Check[]): Table {
  return {
    head: ["target", "wanted", "measured", "met?", "why not (from this run's numbers)"],
    rows: checks.map((c) => [c.what, c.wanted, c.measured, yesNo(c.met), c.why ?? ""]),
    left: [1, 2, 3, 4],
  };
}

/** The report: `command` that ran, the `header` table, then the sections' `reports`. */
export function renderReport(
  command: string,
  header: [string, string][],
  reports: { name: string; load: string; section: Section }[],
): string {
  const out = [
    "# Benchmarks",
    "",
    `Written by \`${command}\` (bench/main.ts); every run overwrites this file.`,
    "",
    renderTable({ head: ["", ""], rows: header, left: [1] }),
    "",
  ];
  const top = summary();
  if (top) {
    out.push("## Summary", "", renderTable(top.table), "");
    const missed = top.checks.filter((c) => c.met === false);
    out.push(
      "## Targets (issue 8)",
      "",
      missed.length === 0
        ? `All ${top.checks.length} targets measured in this run were met.`
        : `${top.checks.length - missed.length} of ${top.checks.length} targets measured in this ` +
          `run were met; missed: ${missed.map((c) => c.what).join("; ")}.`,
      "",
      renderTable(checksTable(top.checks)),
      "",
    );
  }
  const other = reports.flatMap((r) => r.section.checks ?? []);
  if (other.length > 0) out.push("## Other checks", "", renderTable(checksTable(other)), "");
  out.push("## How to read this", "", ...HOW_TO_READ.map((line) => `- ${line}`), "");
  for (const { load, section } of reports) {
    out.push(
      `## ${section.title}`,
      "",
      `${section.description} (Load average at the start: ${load}.)`,
      "",
    );
    for (const table of section.tables) out.push(renderTable(table), "");
    for (const note of section.notes) out.push(`- ${note}`);
    if (section.notes.length > 0) out.push("");
  }
  return out.join("\n");
}
