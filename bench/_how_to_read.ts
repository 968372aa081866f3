/**
 * The "How to read this" text of the report, with what this run met and missed.
 *
 * @module
 */
import type { Section } from "./_types.ts";

/** The explanation for a report made of `sections` at iteration `scale`. */
export function howToRead(sections: Section[], scale: number): string {
  const checks = sections.flatMap((s) => s.checks);
  const missed = checks.filter((c) => !c.met);
  const verdict = checks.length === 0
    ? "This run checked no target."
    : missed.length === 0
    ? `**This run met all ${checks.length} targets.**`
    : `**This run missed ${missed.length} of ${checks.length} targets:** ` +
      missed.map((c) => `${c.what} (${c.measured}; wanted ${c.target})`).join("; ") + ".";
  const lines = [
    "- **What is measured.** Everything goes through real sockets on 127.0.0.1: a real " +
    "`serve()` on port 0, real sandbox processes, the real `ProgtcClient` (the load test reads " +
    "the raw event streams itself). The tool-call comparison, the load test and the memory " +
    "sections run each server in a process of its own, as deployed, with the permissions of " +
    "`deno task serve`; the other sections run the server inside the bench process, next to " +
    "the client. Nothing is mocked; the hop-by-hop tables wrap a few core methods in the bench " +
    "process to take time stamps (see `bench/_probe.ts`), which adds microseconds.",
    "- **Noise.** The machine has few cores and is shared (other test runs, other services); " +
    "the load average above says how busy it was. Absolute milliseconds move from run to run, " +
    "often by 30 % or more; p90/p99 mostly measure the neighbours. So every latency is set " +
    "against a baseline measured in the same run and interleaved with it (the same machine " +
    "state), and the targets are judged on ratios where one is defined and on p50s otherwise. " +
    "Percentiles are over many iterations after discarded warm-up iterations. Compare ratios " +
    "between runs, not absolute numbers.",
    "- **Baselines.** The tool-call baseline is the floor for any HTTP+SSE tool-call protocol " +
    "here: a bare `Deno.serve` that streams one event per client POST, with the same frame " +
    "and body sizes, the same POST and the same SSE parser (`client/sse.ts`). The references " +
    "in the other tables (the sandbox driven without HTTP, a bare child process on pipes) " +
    "split progtc's cost between HTTP, server and sandbox.",
    "- **Targets.** Issue 2: tool-call round trip ≤ 2× the bare SSE echo; trivial execution " +
    "from a warm pool p50 ≤ 15 ms. Issue 3: warm resume grows linearly with the number of " +
    "steps. Issue 4: Python trivial execution from the warm pool p50 ≤ 60 ms. Issue 5: 200 " +
    "concurrent executions × 10 tool calls with none lost, duplicated or misrouted, one " +
    "terminal frame each, and the server's memory back near idle afterwards. " + verdict,
  ];
  if (scale !== 1) {
    lines.push(
      `- **Iteration scale ${scale}.** Fewer iterations than the default run: the tails ` +
        "(p90/p99) rest on few samples.",
    );
  }
  return lines.join("\n");
}
