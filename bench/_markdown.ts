/**
 * Renders the report: header, targets, "how to read this", then one section per benchmark.
 *
 * @module
 */
import type { Machine } from "./_machine.ts";
import type { Check, Section, Table } from "./_types.ts";

/** A markdown table with aligned columns (readable as plain text too). */
export function renderTable(table: Table): string {
  const rows = [table.head, ...table.rows];
  const widths = table.head.map((_, c) =>
    Math.max(3, ...rows.map((row) => [...(row[c] ?? "")].length))
  );
  const line = (row: string[]) =>
    `| ${widths.map((w, c) => (row[c] ?? "").padEnd(w)).join(" | ")} |`;
  const right = (c: number) => (table.align?.[c] ?? (c === 0 ? "left" : "right")) === "right";
  const rule = `|${
    widths.map((w, c) => right(c) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2)).join("|")
  }|`;
  return [line(table.head), rule, ...table.rows.map(line)].join("\n");
}

function checksTable(checks: Check[]): Table {
  return {
    head: ["target", "wanted", "this run", "met?"],
    rows: checks.map((c) => [c.what, c.target, c.measured, c.met ? "yes" : "**no**"]),
    align: ["left", "left", "left", "left"],
  };
}

/** Everything the report needs besides the sections. */
export interface ReportInfo {
  machine: Machine;
  loadEnd: string;
  scale: number;
  selected: string[];
  seconds: number;
  command: string;
}

/** The whole BENCHMARKS.md. */
export function renderReport(info: ReportInfo, sections: Section[], howToRead: string): string {
  const m = info.machine;
  const checks = sections.flatMap((s) => s.checks);
  const out = [
    "# Benchmarks",
    "",
    `Written by \`${info.command}\`; every run overwrites this file.`,
    "",
    renderTable({
      head: ["", ""],
      align: ["left", "left"],
      rows: [
        ["machine", `${m.cpu}, ${m.cores} cores, ${m.ramGiB.toFixed(1)} GiB RAM`],
        ["OS", m.os],
        ["Deno", m.deno],
        ["date", m.date],
        ["commit", m.commit],
        ["load average (1/5/15 min)", `${m.loadavg} at start, ${info.loadEnd} at end`],
        ["sections", `${info.selected.join(", ")} (iteration scale ${info.scale})`],
        ["duration", `${info.seconds.toFixed(0)} s`],
      ],
    }),
    "",
  ];
  if (checks.length > 0) out.push("## Targets", "", renderTable(checksTable(checks)), "");
  out.push("## How to read this", "", howToRead.trim(), "");
  for (const section of sections) {
    out.push(`## ${section.title}`, "", section.description, "");
    for (const table of section.tables) out.push(renderTable(table), "");
    for (const note of section.notes) out.push(`- ${note}`);
    if (section.notes.length > 0) out.push("");
  }
  return out.join("\n");
}
