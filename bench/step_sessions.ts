/**
 * The `step_sessions` section (issue 21, part 3): what rebuilding a step API session costs
 * against the number of programs in it. Two servers of ours (defaults, one `--state-secret`),
 * both languages.
 *
 * Each round builds a session of `L` programs on server A (not measured; each program defines a
 * value from one tool call), then runs the session's next program (one tool call, two steps)
 * from the same session state on B, which does not hold the session and rebuilds it by replaying
 * the `L` programs, and then on A, which holds its realm. Wall time of the next program (all its
 * steps), p50 over the rounds, for `L` = 1, 4, 16.
 *
 * @module
 */
import { type Endpoint, step } from "./_client.ts";
import { median, ms } from "./_lib.ts";
import { startOurs } from "./_servers.ts";
import type { Ctx, Section } from "./main.ts";

type Language = "typescript" | "python";

const LENGTHS = [1, 4, 16];

const DEFINE: Record<Language, (i: number) => string> = {
  typescript: (i) => `import { add } from "tools";\nconst v${i} = await add(${i}, 1);`,
  python: (i) => `from tools import add\nv${i} = await add(${i}, 1)`,
};
const NEXT: Record<Language, string> = {
  typescript: `import { add } from "tools";\nconsole.log(await add(v0, 0));`,
  python: `from tools import add\nprint(await add(v0, 0))`,
};

/** Runs one program of a session step by step; its wall time, output and next state. */
async function program(
  endpoint: Endpoint,
  language: Language,
  code: string,
  session: { state: string } | "new",
): Promise<{ ms: number; stdout: string; state: string }> {
  const base = { code, tool_names: ["add"], language };
  const started = performance.now();
  let answer = await step(endpoint, {
    ...base,
    ...(session === "new" ? { session: "new" } : { session_state: session.state }),
  });
  while (answer.type === "tool_call") {
    const calls = answer.tool_calls as { args: number[] }[];
    answer = await step(endpoint, {
      ...base,
      state: answer.state,
      tool_results: calls.map((call) => call.args[0]! + call.args[1]!),
    });
  }
  const elapsed = performance.now() - started;
  if (answer.type !== "success" || typeof answer.session_state !== "string") {
    throw new Error(`${language} session program: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  return { ms: elapsed, stdout: String(answer.stdout), state: answer.session_state };
}

/** `rounds` sessions of `length` programs: the next program's p50 where held and where rebuilt. */
async function rebuildVsHeld(
  a: Endpoint,
  b: Endpoint,
  language: Language,
  length: number,
  rounds: number,
) {
  const held: number[] = [];
  const rebuilt: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let session: { state: string } | "new" = "new";
    for (let i = 0; i < length; i++) {
      session = { state: (await program(a, language, DEFINE[language](i), session)).state };
    }
    // B first: it rebuilds from the state, and leaves A's realm for A.
    for (const [endpoint, samples] of [[b, rebuilt], [a, held]] as const) {
      const next = await program(endpoint, language, NEXT[language], session);
      if (next.stdout !== "1\n") throw new Error(`${language}: printed ${next.stdout}`);
      samples.push(next.ms);
    }
  }
  return { held: median(held), rebuilt: median(rebuilt) };
}

/** The section. */
export async function stepSessions(ctx: Ctx): Promise<Section> {
  const secret = `bench-${crypto.randomUUID()}`;
  await using a = await startOurs(["--state-secret", secret], "ours A");
  await using b = await startOurs(["--state-secret", secret], "ours B");
  const rows: string[][] = [];
  for (const language of ["typescript", "python"] as const) {
    // A first session on each server, so that neither measures its first Python host.
    await program(a, language, DEFINE[language](0), "new");
    await program(b, language, DEFINE[language](0), "new");
    for (const length of LENGTHS) {
      const rounds = ctx.n(language === "python" ? 8 : 15, 3);
      ctx.log(`step_sessions: ${language}: ${length} programs, ${rounds} rounds`);
      const r = await rebuildVsHeld(a, b, language, length, rounds);
      rows.push([
        language,
        String(length),
        ms(r.held),
        ms(r.rebuilt),
        ms(r.rebuilt - r.held),
        ms((r.rebuilt - r.held) / length),
      ]);
    }
  }
  return {
    title: "Step API sessions: rebuilding",
    description: "The next program of a step API session (one tool call, two steps) run from " +
      "the same session state on a server that holds the session's realm, and on a second " +
      "server with the same --state-secret, which rebuilds it by replaying the session's " +
      "programs (each defined a value from one tool call) with their recorded results. Wall " +
      "time of the whole program, p50 over rounds; one client, the defaults.",
    tables: [{
      head: [
        "language",
        "programs in session",
        "held p50",
        "rebuilt p50",
        "rebuild cost",
        "per program replayed",
      ],
      rows,
    }],
    notes: [
      "A rebuild opens a fresh session realm and runs each recorded program again in it, its " +
      "calls answered from the state: it costs about what running the programs cost, without " +
      "the round trips of their tool calls, and grows linearly with the session's length.",
      "The server that holds the realm pays none of it: the state names its kept realm.",
    ],
  };
}
