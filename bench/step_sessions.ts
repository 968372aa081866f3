/**
 * The `step_sessions` section (issue 21, part 3): what rebuilding a step API session costs
 * against the number of programs in it. Two servers of ours (defaults, one `--state-secret`),
 * both languages.
 *
 * Each round builds a session of `L` programs on server A (not measured; each program defines a
 * value from one tool call), then runs the session's next program (one tool call, two steps)
 * from the same session state on B, which does not hold the session and rebuilds it by replaying
 * the `L` programs, and then on A, which holds its realm; and, as the floor of a new realm, the
 * same program outside any session on B. Each measurement starts once the server's tree is
 * quiet (a new realm's worker is then a warm spare). Wall time of the program (all its steps),
 * p50 over the rounds, for `L` = 1, 4, 16.
 *
 * @module
 */
import { type Endpoint, step } from "./_client.ts";
import type { Server } from "./_servers.ts";
import { median, ms } from "./_lib.ts";
import { settle, startOurs } from "./_servers.ts";
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
/** The same program outside a session: it defines what it uses. */
const FRESH: Record<Language, string> = {
  typescript: `import { add } from "tools";\nconst v0 = 1;\nconsole.log(await add(v0, 0));`,
  python: `from tools import add\nv0 = 1\nprint(await add(v0, 0))`,
};

/** Runs one program of a session step by step; its wall time, output and next state. */
async function program(
  endpoint: Endpoint,
  language: Language,
  code: string,
  session: { state: string } | "new" | "none",
): Promise<{ ms: number; stdout: string; state: string }> {
  const base = { code, tool_names: ["add"], language };
  const started = performance.now();
  let answer = await step(endpoint, {
    ...base,
    ...(session === "none"
      ? {}
      : session === "new"
      ? { session: "new" }
      : { session_state: session.state }),
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
  const state = answer.session_state;
  if (answer.type !== "success" || (session !== "none" && typeof state !== "string")) {
    throw new Error(`${language} session program: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  return { ms: elapsed, stdout: String(answer.stdout), state: String(state) };
}

/** `rounds` sessions of `length` programs: the next program's p50 where held and where rebuilt. */
async function rebuildVsHeld(
  a: Server,
  b: Server,
  language: Language,
  length: number,
  rounds: number,
) {
  const samples = { fresh: [] as number[], held: [] as number[], rebuilt: [] as number[] };
  const measure = async (
    server: Server,
    kind: keyof typeof samples,
    code: string,
    session: { state: string } | "none",
  ) => {
    await settle(server, 200, 3000);
    const next = await program(server, language, code, session);
    if (next.stdout !== "1\n") throw new Error(`${language}: printed ${next.stdout}`);
    samples[kind].push(next.ms);
  };
  for (let round = 0; round < rounds; round++) {
    let state = (await program(a, language, DEFINE[language](0), "new")).state;
    for (let i = 1; i < length; i++) {
      state = (await program(a, language, DEFINE[language](i), { state })).state;
    }
    const session = { state };
    await measure(b, "fresh", FRESH[language], "none");
    // B before A: B rebuilds from the state, and leaves A's realm for A.
    await measure(b, "rebuilt", NEXT[language], session);
    await measure(a, "held", NEXT[language], session);
  }
  return {
    fresh: median(samples.fresh),
    held: median(samples.held),
    rebuilt: median(samples.rebuilt),
  };
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
        ms(r.fresh),
        ms(r.held),
        ms(r.rebuilt),
        ms(r.rebuilt - r.fresh),
        ms((r.rebuilt - r.fresh) / length),
      ]);
    }
  }
  return {
    title: "Step API sessions: rebuilding",
    description: "The next program of a step API session (one tool call, two steps) run from " +
      "the same session state on a server that holds the session's realm, and on a second " +
      "server with the same --state-secret, which rebuilds it by replaying the session's " +
      "programs (each defined a value from one tool call) with their recorded results. Wall " +
      "time of the whole program, p50 over rounds; one client, the defaults. `no session`: the " +
      "same program outside any session on the second server (the floor of a new realm).",
    tables: [{
      head: [
        "language",
        "programs in session",
        "no session p50",
        "held p50",
        "rebuilt p50",
        "rebuilt − no session",
        "per program replayed",
      ],
      rows,
    }],
    notes: [
      "A rebuild opens a new session realm (what `no session` pays too) and runs each recorded " +
      "program again in it, its calls answered from the state: the replay costs about what " +
      "running the programs did, without the round trips of their tool calls, and grows " +
      "linearly with the session's length.",
      "The server that holds the realm pays none of it: the state names its kept realm.",
    ],
  };
}
