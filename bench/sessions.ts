/**
 * The `sessions` section (issue 21): what the next program of a session costs against a fresh
 * execution of the same program, and what an idle session holds. One server of ours (defaults),
 * both languages.
 *
 * - **Next program vs fresh**: `N` rounds, interleaved: a fresh execution of a program that
 *   prints a value, and the same program as the next of an open session (which defined the
 *   value in its first program). Wall time per execution (p50) and the server tree's CPU per
 *   execution, measured over each kind's runs.
 * - **Idle sessions**: `K` sessions opened, each defining a 1,000-element array, then left idle;
 *   the tree's PSS before and after, per session. Every session's next program must then print
 *   its own value.
 *
 * @module
 */
import { type Endpoint, execute, expectSuccess } from "./_client.ts";
import { median, mib, ms, ratio, sleep, treeCpu, treeMemory } from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Ctx, Section } from "./main.ts";

type Language = "typescript" | "python";

const DEFINE: Record<Language, (k: number) => string> = {
  typescript: (k) => `const rows = Array.from({ length: 1000 }, (_, i) => i + ${k});`,
  python: (k) => `rows = [i + ${k} for i in range(1000)]`,
};
const PRINT: Record<Language, string> = {
  typescript: "console.log(rows[0]);",
  python: "print(rows[0])",
};

/** Runs `code` (in `session`, if given) and checks it printed `stdout`; its session id. */
async function run(
  endpoint: Endpoint,
  language: Language,
  code: string,
  stdout: string,
  session?: string,
): Promise<{ ms: number; session: string | undefined }> {
  const result = await execute(endpoint, {
    code,
    tool_names: [],
    language,
    ...(session ? { session } : {}),
  });
  expectSuccess(result, stdout, `${language} ${session ?? "fresh"}`);
  const id = (result.terminal as { session_id?: string } | undefined)?.session_id;
  return { ms: result.ended - result.started, session: id };
}

/** Fresh and next-in-session, interleaved: p50 wall and CPU per program of each. */
async function nextVsFresh(endpoint: Endpoint, pid: number, language: Language, n: number) {
  const opened = await run(endpoint, language, DEFINE[language](7), "", "new");
  const code = `${DEFINE[language](7)}\n${PRINT[language]}`;
  const wall = { fresh: [] as number[], next: [] as number[] };
  const cpu = { fresh: 0, next: 0 };
  for (let i = 0; i < n; i++) {
    for (const kind of ["fresh", "next"] as const) {
      const before = await treeCpu(pid);
      const r = kind === "fresh"
        ? await run(endpoint, language, code, "7\n")
        : await run(endpoint, language, PRINT[language], "7\n", opened.session);
      // The host's own work after the end (terminating a fresh worker) counts too.
      await sleep(30);
      cpu[kind] += (await treeCpu(pid)).total - before.total;
      wall[kind].push(r.ms);
    }
  }
  return {
    fresh: { p50: median(wall.fresh), cpu: cpu.fresh / n },
    next: { p50: median(wall.next), cpu: cpu.next / n },
  };
}

/** `k` idle sessions: PSS per session, and each one's value still there. */
async function idleSessions(server: Server, language: Language, k: number) {
  const endpoint: Endpoint = server;
  await settle(server, 500, 5000);
  const before = await treeMemory(server.pid);
  const ids: string[] = [];
  for (let i = 0; i < k; i++) {
    ids.push((await run(endpoint, language, DEFINE[language](i), "", "new")).session!);
  }
  await sleep(1000);
  await settle(server, 500, 5000);
  const after = await treeMemory(server.pid);
  for (const [i, id] of ids.entries()) await run(endpoint, language, PRINT[language], `${i}\n`, id);
  return { perSession: (after.pss - before.pss) / k, k };
}

/** The section. */
export async function sessions(ctx: Ctx): Promise<Section> {
  await using server = await startOurs();
  const endpoint: Endpoint = server;
  const rows: string[][] = [];
  const idleRows: string[][] = [];
  for (const language of ["typescript", "python"] as const) {
    const n = ctx.n(language === "python" ? 20 : 40, 5);
    ctx.log(`sessions: ${language}: next program vs fresh, ${n} rounds`);
    const r = await nextVsFresh(endpoint, server.pid, language, n);
    rows.push([
      language,
      ms(r.fresh.p50),
      ms(r.next.p50),
      ratio(r.next.p50 / r.fresh.p50),
      ms(r.fresh.cpu),
      ms(r.next.cpu),
      ratio(r.next.cpu / r.fresh.cpu),
    ]);
    const k = ctx.quick ? 5 : language === "python" ? 20 : 100;
    ctx.log(`sessions: ${language}: ${k} idle sessions`);
    const idle = await idleSessions(server, language, k);
    idleRows.push([language, String(idle.k), mib(idle.perSession)]);
  }
  return {
    title: "Sessions",
    description: "The next program of a session against a fresh execution of the same " +
      "program (interleaved rounds, one client, our server with the defaults), and what an " +
      "idle session holds (PSS of the server's tree, before and after opening them, per " +
      "session; each session then prints its own value).",
    tables: [
      {
        head: [
          "language",
          "fresh p50",
          "next in session p50",
          "next / fresh",
          "fresh CPU",
          "next CPU",
          "next / fresh",
        ],
        rows,
      },
      { head: ["language", "idle sessions", "PSS per idle session"], rows: idleRows },
    ],
    notes: [
      "A session's next program needs no realm: no worker to make, no Pyodide to restore, none " +
      "to terminate after; it pays the rewrite of its top-level declarations (TypeScript).",
      "An idle session holds its worker: a TypeScript isolate, or a Python one with its own " +
      "Pyodide memory.",
    ],
  };
}
