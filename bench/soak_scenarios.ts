/**
 * The soak's scenarios (`soak.ts`): what each runs against the server, and how its outcome is
 * checked; a run ended by a neighbour's kill (its host SIGKILLed by the `kill` scenario) is told
 * apart. The `timeout` scenario expects the server's per-call timeout of 1 s.
 *
 * @module
 */
import {
  drain,
  type Endpoint,
  execute,
  type Run,
  step as postStep,
  type ToolCall,
  unreadExecution,
} from "./_client.ts";
import { sleep } from "./_lib.ts";

/** The scenarios, a loop picks one at random: `normal` twice as often as the others. */
export const SCENARIOS = [
  "normal",
  "normal",
  "python",
  "vanish",
  "kill",
  "timeout",
  "step",
  "unread",
  "batch",
] as const;

/** One of the soak's scenarios. */
export type Scenario = (typeof SCENARIOS)[number];

/**
 * A host SIGKILLed by the `kill` scenario ends every program on it: each of the others gets
 * one frame that says so. That is the blast radius of shared hosts, expected, counted apart.
 */
const NEIGHBOUR =
  /the sandbox stopped unexpectedly \(signal SIGKILL\) \(with the \d+ other programs? it ran\)/;
/** What {@linkcode scenario} answers for a run ended by a neighbour's kill. */
export const COLLATERAL = "collateral";

/** Whether a terminal frame or step answer is a neighbour's kill. */
const collateral = (end: Record<string, unknown> | undefined) =>
  end?.type === "runtime_error" && NEIGHBOUR.test(String(end.stderr));

const THREE = `import { t } from "tools";
let s = "";
for (let i = 0; i < 3; i++) s += await t(i);
console.log(s);`;
const THREE_PY = `from tools import t
s = ""
for i in range(3):
    s += await t(i)
print(s)`;

const FLOOD = `console.log("\\u0001".repeat(4 * 1024 * 1024));`;

const BATCH = `import { t } from "tools";
const big = "b".repeat(400_000);
const settled = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => t(i, big)));
console.log(settled.filter((s) => s.status === "fulfilled").length);`;
/** One scenario's run; why it is wrong, or undefined. */
export async function scenario(server: Endpoint, kind: Scenario, random: () => number) {
  switch (kind) {
    case "normal":
    case "python": {
      const body = kind === "python"
        ? { code: THREE_PY, tool_names: ["t"], language: "python" }
        : { code: THREE, tool_names: ["t"] };
      const run = await execute(server, body, (call) => `r${call.args[0]}`);
      return check(run, "success", "r0r1r2\n");
    }
    case "vanish": {
      const abort = new AbortController();
      const response = await fetch(`${server.url}/execute-code`, {
        method: "POST",
        headers: { "x-progtc-api-key": server.apiKey, "content-type": "application/json" },
        body: JSON.stringify({ code: THREE, tool_names: ["t"] }),
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read().catch(() => {});
      abort.abort();
      await reader.cancel().catch(() => {});
      return response.status === 200 ? undefined : `HTTP ${response.status}`;
    }
    case "kill": {
      const code = `import { t } from "tools"; await t(Deno.pid); console.log("not reached");`;
      const run = await execute(server, { code, tool_names: ["t"] }, async (call: ToolCall) => {
        try {
          Deno.kill(Number(call.args[0]), "SIGKILL");
        } catch {
          // Gone already.
        }
        await sleep(50);
        return null;
      });
      // The result may still reach the dying sandbox's execution: its 404/409 is expected.
      run.problems = run.problems.filter((p) => !/^\/tool-results (404|409|200)/.test(p));
      const why = check(run, "runtime_error");
      if (why) return why;
      return /the sandbox stopped unexpectedly \(signal SIGKILL\)/.test(run.terminal!.stderr)
        ? undefined
        : `stderr ${JSON.stringify(run.terminal!.stderr.slice(0, 120))}`;
    }
    case "timeout": {
      const code = `import { t } from "tools";
try { await t(); } catch (e) { console.log(e.name); }`;
      const run = await execute(server, { code, tool_names: ["t"] }, async () => {
        await sleep(1300);
        return "late";
      });
      return check(run, "success", "TimeoutError\n");
    }
    case "unread": {
      const conn = await unreadExecution(server, FLOOD);
      try {
        // The server's cut comes 3 s after the end; a complete response sat in the kernel.
        await sleep(4000);
        const end = await drain(conn, 5000);
        return end === "open" ? "the server left an unread stream open" : undefined;
      } finally {
        conn.close();
      }
    }
    case "batch": {
      const first = await postStep(server, { code: BATCH, tool_names: ["t"] });
      if (collateral(first)) return COLLATERAL;
      if (first.type !== "tool_call") return `batch: ${kindOf(first)}`;
      const calls = first.tool_calls as unknown[];
      const bytes = new TextEncoder().encode(JSON.stringify(calls)).byteLength;
      if (calls.length !== 41 || bytes > 16 * 2 ** 20) {
        return `batch of ${calls.length}, ${bytes} B`;
      }
      const last = await postStep(server, {
        code: BATCH,
        tool_names: ["t"],
        state: first.state,
        tool_results: calls.map(() => "ok"),
      });
      if (collateral(last)) return COLLATERAL;
      return last.type === "success" && last.stdout === "41\n" ? undefined : `end ${kindOf(last)}`;
    }
    case "step": {
      const code = THREE;
      let answer = await postStep(server, { code, tool_names: ["t"] });
      if (collateral(answer)) return COLLATERAL;
      while (answer.type === "tool_call") {
        const calls = answer.tool_calls as { args: unknown[] }[];
        const body = {
          code,
          tool_names: ["t"],
          state: answer.state,
          tool_results: calls.map((c) => `r${c.args[0]}`),
        };
        if (random() < 0.3) {
          // A fork: other results, whose continuation is dropped.
          await postStep(server, { ...body, tool_results: calls.map(() => "fork") });
        }
        const first = await postStep(server, body);
        const retry = await postStep(server, body);
        if (collateral(first) || collateral(retry)) return COLLATERAL;
        if (JSON.stringify(callsOf(first)) !== JSON.stringify(callsOf(retry))) {
          return `a retried step gave other calls (${kindOf(first)}, then ${kindOf(retry)})`;
        }
        answer = retry;
      }
      if (answer.type !== "success" || answer.stdout !== "r0r1r2\n") {
        return `step end ${JSON.stringify(answer).slice(0, 160)}`;
      }
      return undefined;
    }
  }
}

/** An answer's type, and the start of its error if it has one. */
function kindOf(answer: Record<string, unknown>): string {
  const stderr = typeof answer.stderr === "string" ? answer.stderr.trim().slice(0, 80) : "";
  return stderr ? `${answer.type}: ${stderr}` : String(answer.type);
}

function callsOf(answer: Record<string, unknown>) {
  if (answer.type !== "tool_call") return answer;
  return (answer.tool_calls as { tool_name: string; args: unknown[] }[])
    .map((c) => [c.tool_name, c.args]);
}

function check(run: Run, type: string, stdout?: string): string | undefined {
  if (run.status !== 200) return `HTTP ${run.status}`;
  if (run.problems.length > 0) return run.problems[0]!.slice(0, 120);
  if (run.terminals !== 1) return `${run.terminals} terminal frames`;
  if (run.afterTerminal > 0) return "frames after the terminal one";
  if (type !== "runtime_error" && collateral(run.terminal)) return COLLATERAL;
  if (run.terminal!.type !== type) {
    return `${run.terminal!.type}: ${run.terminal!.stderr.slice(0, 100)}`;
  }
  if (stdout !== undefined && run.terminal!.stdout !== stdout) {
    return `stdout ${JSON.stringify(run.terminal!.stdout.slice(0, 60))}`;
  }
  return undefined;
}
