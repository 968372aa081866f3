/**
 * The summary of the comparison (issue 8): the headline table of what this run's comparison
 * sections measured, ours beside the reference and the echo, and issue 8's targets checked
 * against it, each miss with the reason this run's own numbers point to.
 *
 * @module
 */
import { mib, ms, rate, ratio, type Table } from "./_lib.ts";
import { CLIENTS, type Key, LABEL, results } from "./_compare.ts";
import type { Check } from "./main.ts";

const cores = navigator.hardwareConcurrency;

/** The headline table (what was measured of it) and the issue's targets. */
export function summary(): { table: Table; checks: Check[] } | undefined {
  const r = results;
  const has = Object.keys(r.cpu).length + r.throughput.size + Object.keys(r.backToBack).length +
    Object.keys(r.roundTrip).length + Object.keys(r.memory).length;
  if (has === 0) return undefined;
  const keys: Key[] = ["ts", "py", "ref", "echo"];
  const echoRt = r.roundTrip.echo?.p50 ?? NaN;
  const row = (
    label: string,
    cell: (k: Key) => number | undefined,
    format: (v: number) => string,
    compare = true,
  ) => {
    const values = keys.map((k) => cell(k));
    const py = values[1];
    const ref = values[2];
    return [
      label,
      ...values.map((v) => (v === undefined || !Number.isFinite(v) ? "–" : format(v))),
      compare && py !== undefined && ref !== undefined ? ratio(py / ref) : "–",
    ];
  };
  const rows = [
    row("CPU per trivial execution (server + sandbox, /proc), ms", (k) => r.cpu[k]?.total, ms),
    ...CLIENTS.map((c) =>
      row(
        `throughput, ${c} client${c > 1 ? "s" : ""}, 1 tool call each, executions/s`,
        (k) => r.throughput.get(c)?.[k]?.rate,
        rate,
      )
    ),
    [
      ...row("trivial execution back to back, p50 / p95 ms", (k) => r.backToBack[k]?.p50, ms).slice(
        0,
        1,
      ),
      ...keys.map((k) =>
        r.backToBack[k] ? `${ms(r.backToBack[k]!.p50)} / ${ms(r.backToBack[k]!.p95)}` : "–"
      ),
      r.backToBack.py && r.backToBack.ref ? ratio(r.backToBack.py.p50 / r.backToBack.ref.p50) : "–",
    ],
    row("trivial execution after 3 s idle, p50 ms", (k) => r.idle[k]?.p50, ms),
    [
      "tool-call round trip p50, ms (× echo)",
      ...keys.map((k) => {
        const v = r.roundTrip[k]?.p50;
        return v === undefined ? "–" : k === "echo" ? ms(v) : `${ms(v)} (${ratio(v / echoRt)})`;
      }),
      r.roundTrip.py && r.roundTrip.ref ? ratio(r.roundTrip.py.p50 / r.roundTrip.ref.p50) : "–",
    ],
    row(
      "memory per execution held on a tool call (PSS), MiB",
      (k) => r.memory[k]?.perExecution,
      mib,
    ),
  ];
  const table: Table = {
    head: ["", LABEL.ts, LABEL.py, LABEL.ref, LABEL.echo, "ours Python / reference"],
    rows,
  };

  const checks: Check[] = [];
  const add = (
    what: string,
    wanted: string,
    value: number | undefined,
    met: (v: number) => boolean,
    measured: (v: number) => string,
    why: (v: number) => string,
  ) => {
    if (value === undefined || Number.isNaN(value)) return;
    const ok = met(value);
    checks.push({
      group: "issue 8",
      what,
      wanted,
      measured: measured(value),
      met: ok,
      ...ok ? {} : { why: why(value) },
    });
  };
  const cpuWhy = (k: Key) => () => {
    const c = r.cpu[k]!;
    return `${ms(c.own)} ms of it in the server process, ${
      ms(c.descendants)
    } ms in its child processes`;
  };
  const tputWhy = (k: Key, clients: number) => () => {
    const t = r.throughput.get(clients)![k]!;
    const ceiling = (cores * 1000) / t.cpu;
    if (t.failed > 0) return `${t.failed} executions failed (${t.why?.slice(0, 120)})`;
    return t.busy >= 0.85
      ? `CPU-bound: the machine was ${(t.busy * 100).toFixed(0)}% busy; ${
        ms(t.cpu)
      } ms of server CPU per ` +
        `execution caps ${cores} cores at ${rate(ceiling)}/s (the client took ${
          (t.client * 100).toFixed(0)
        }% of a core)`
      : `not CPU-bound (machine ${(t.busy * 100).toFixed(0)}% busy): each execution took ${
        ms(t.latency)
      } ms (p50) ` +
        `with ${clients} clients`;
  };
  const b2bWhy = (k: Key) => () => {
    const b = r.backToBack[k]!;
    const i = r.idle[k];
    const c = r.cpu[k];
    if (i && b.p50 > 1.5 * i.p50) {
      return `back to back an execution waits for work the previous one left (after an idle pause p50 is ` +
        `${ms(i.p50)} ms${c ? `; each execution costs ${ms(c.total)} ms of CPU` : ""})`;
    }
    return `the execution itself takes that long${
      i ? ` (after an idle pause p50 ${ms(i.p50)} ms)` : ""
    }` +
      (c
        ? `; it costs ${ms(c.total)} ms of CPU (server ${ms(c.own)}, children ${ms(c.descendants)})`
        : "");
  };
  const rtWhy = (k: Key) => () => {
    const v = r.roundTrip[k]!.p50;
    return `${ms(v)} ms against ${ms(echoRt)} ms for the echo: ${
      ms(v - echoRt)
    } ms per call beyond HTTP + SSE, in ` +
      "the server and the sandbox's hops";
  };
  const tput8 = (k: Key) => r.throughput.get(8)?.[k]?.rate;
  const b2b = r.backToBack;
  const rt = (
    k: Key,
  ) => (r.roundTrip[k] && r.roundTrip.echo ? r.roundTrip[k]!.p50 / echoRt : undefined);
  const x = (v: number) => ratio(v);
  const msText = (v: number) => `${ms(v)} ms`;

  add(
    "TypeScript: CPU per trivial execution",
    "≤ 25 ms",
    r.cpu.ts?.total,
    (v) => v <= 25,
    msText,
    cpuWhy("ts"),
  );
  add(
    "TypeScript: throughput, 8 clients",
    "≥ 70/s",
    tput8("ts"),
    (v) => v >= 70,
    (v) => `${rate(v)}/s`,
    tputWhy("ts", 8),
  );
  add("TypeScript: back to back p50", "≤ 6 ms", b2b.ts?.p50, (v) => v <= 6, msText, b2bWhy("ts"));
  add("TypeScript: back to back p95", "≤ 20 ms", b2b.ts?.p95, (v) => v <= 20, msText, () => {
    const b = b2b.ts!;
    return `p95 ${ms(b.p95)} against p50 ${ms(b.p50)} ms (max ${ms(b.max)}): one execution in ` +
      "twenty waits, on work the previous ones left or on other processes sharing the " +
      `${cores} cores (see the section's load average)`;
  });
  add(
    "TypeScript: tool-call round trip p50 / echo p50",
    "≤ 2×",
    rt("ts"),
    (v) => v <= 2,
    (v) => `${x(v)} (${ms(r.roundTrip.ts!.p50)} vs ${ms(echoRt)} ms)`,
    rtWhy("ts"),
  );
  add(
    "Python: CPU per trivial execution",
    "≤ 150 ms",
    r.cpu.py?.total,
    (v) => v <= 150,
    msText,
    cpuWhy("py"),
  );
  add(
    "Python: throughput, 8 clients",
    "≥ 12/s",
    tput8("py"),
    (v) => v >= 12,
    (v) => `${rate(v)}/s`,
    tputWhy("py", 8),
  );
  const refRate = tput8("ref");
  add(
    "Python: throughput, 8 clients / reference",
    "≥ 3×",
    refRate === undefined ? undefined : (tput8("py") ?? NaN) / refRate,
    (v) => v >= 3,
    (v) => `${x(v)} (${rate(tput8("py")!)} vs ${rate(refRate!)}/s)`,
    tputWhy("py", 8),
  );
  add("Python: back to back p50", "≤ 40 ms", b2b.py?.p50, (v) => v <= 40, msText, b2bWhy("py"));
  add(
    "Python: tool-call round trip p50 / echo p50",
    "≤ 3×",
    rt("py"),
    (v) => v <= 3,
    (v) => `${x(v)} (${ms(r.roundTrip.py!.p50)} vs ${ms(echoRt)} ms)`,
    rtWhy("py"),
  );
  add(
    "Python: memory per held execution (PSS)",
    "≤ 80 MiB",
    r.memory.py?.perExecution,
    (v) => v <= 80 * 1024 * 1024,
    (v) => `${mib(v)} MiB`,
    () => {
      const m = r.memory.py!;
      return `with ${m.k} executions held the server's tree went from ${m.processes} processes ` +
        `and ${mib(m.idle)} → ${mib(m.held)} MiB PSS; the new processes have ${
          m.added.map(mib).join(", ")
        } MiB PSS`;
    },
  );
  return { table, checks };
}
