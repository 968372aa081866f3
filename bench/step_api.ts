/**
 * The step API (`POST /execute-code-step`): warm resume against forced replay. A program of N
 * sequential tool calls is driven step by step over raw HTTP against two servers of ours, each in
 * its own process: one with the defaults (a paused execution is held and resumed warm) and one
 * with `--warm-resume-ttl 0` (every step replays the program from the start, answering the
 * recorded calls from the state). Each server logs how it took each step (its stderr), so a run
 * that silently fell back to replay cannot pass as warm.
 *
 * @module
 */
import { type Endpoint, step } from "./_client.ts";
import { median, ms, ratio } from "./_lib.ts";
import { type Server, settle, startOurs } from "./_servers.ts";
import type { Ctx, Section } from "./main.ts";

const SIZES = [10, 25, 50];
/** Warm resume: the last resumes may cost at most this much more than the first ones. */
const FLAT = 1.5;

/** Python programs driven over the step API, as replays of `PY_STEPS` calls, and how often. */
const PY_STEPS = 10;

type StepLanguage = "typescript" | "python";

function program(n: number, language: StepLanguage = "typescript"): string {
  if (language === "python") {
    return `from tools import step\ntotal = 0\nfor i in range(${n}):\n    total += await step(i)\n` +
      `print(total)\n`;
  }
  return `import { step } from "tools";\nlet sum = 0;\n` +
    `for (let i = 0; i < ${n}; i++) sum += await step(i);\nconsole.log(sum);\n`;
}

/** One program driven to its end: total time and each request's latency (N + 1 requests). */
async function drive(
  endpoint: Endpoint,
  n: number,
  language: StepLanguage = "typescript",
  between?: () => Promise<void>,
): Promise<{ total: number; steps: number[] }> {
  const base = { code: program(n, language), tool_names: ["step"], language };
  const steps: number[] = [];
  const started = performance.now();
  let body: Record<string, unknown> = { ...base, state: null, tool_results: null };
  for (;;) {
    const t = performance.now();
    const answer = await step(endpoint, body);
    steps.push(performance.now() - t);
    if (answer.type !== "tool_call") {
      const total = performance.now() - started;
      if (
        answer.type !== "success" || answer.stdout !== `${n * (n - 1)}\n` || steps.length !== n + 1
      ) {
        throw new Error(`Step run of ${n} failed: ${JSON.stringify(answer).slice(0, 300)}`);
      }
      return { total, steps };
    }
    const calls = answer.tool_calls as { args: number[] }[];
    body = { ...base, state: answer.state, tool_results: calls.map((c) => 2 * c.args[0]!) };
    await between?.();
  }
}

/** Counts the modes (`start`, `warm`, `replay`) in the server's step log lines. */
function countModes(server: Server): { counts: Record<string, number>; reset(): void } {
  const counts: Record<string, number> = {};
  server.onLine((line) => {
    const mode = line.match(/^step \S+ #\d+ \S+ \((\w+)[,)]/)?.[1];
    if (mode) counts[mode] = (counts[mode] ?? 0) + 1;
  });
  return { counts, reset: () => Object.keys(counts).forEach((k) => delete counts[k]) };
}

/** The step API section. */
export async function stepApi(ctx: Ctx): Promise<Section> {
  const reps = ctx.n(3, 1);
  ctx.log("step_api: starting two servers (default, --warm-resume-ttl 0)");
  await using warm = await startOurs([], "ours (warm resume)");
  await using replay = await startOurs(["--warm-resume-ttl", "0"], "ours (replay)");
  const modes = { warm: countModes(warm), replay: countModes(replay) };
  for (const server of [warm, replay]) await drive(server, 5);
  modes.warm.reset();
  modes.replay.reset();
  const totals = { warm: new Map<number, number[]>(), replay: new Map<number, number[]>() };
  const last = { warm: [] as number[][], replay: [] as number[][] };
  for (let rep = 0; rep < reps; rep++) {
    for (const n of SIZES) {
      for (const mode of ["warm", "replay"] as const) {
        ctx.log(`step_api: run ${rep + 1}/${reps}, N = ${n}, ${mode}`);
        const server = mode === "warm" ? warm : replay;
        await settle(server);
        const { total, steps } = await drive(server, n);
        totals[mode].set(n, [...totals[mode].get(n) ?? [], total]);
        if (n === SIZES.at(-1)) last[mode].push(steps);
      }
    }
  }
  const py = await pythonReplay(ctx, replay, reps);
  const big = SIZES.at(-1)!;
  const analyse = (mode: "warm" | "replay") => {
    // Requests #2 … #big resume and return the next call; #big+1 ends the program (left out).
    const resumes = last[mode].map((steps) => steps.slice(1, -1));
    return {
      start: median(last[mode].map((steps) => steps[0]!)),
      early: median(resumes.flatMap((r) => r.slice(0, 10))),
      late: median(resumes.flatMap((r) => r.slice(-10))),
      total: (n: number) => median(totals[mode].get(n)!),
    };
  };
  const w = analyse("warm");
  const r = analyse("replay");
  const expectedWarm = reps * SIZES.reduce((s, n) => s + n, 0);
  const logged = modes.warm.counts;
  const anyLogged = Object.keys(logged).length + Object.keys(modes.replay.counts).length > 0;
  return {
    title: "Step API: warm resume against forced replay",
    description: "`for (let i = 0; i < N; i++) sum += await step(i)`, then print, driven over " +
      "raw HTTP with `POST /execute-code-step` (N + 1 requests, each batch answered at once) " +
      "against two servers of ours in their own processes: the defaults (warm resume) and " +
      `\`--warm-resume-ttl 0\` (every step replays the program). Median of ${reps} run` +
      `${reps === 1 ? "" : "s"} per N, the two interleaved, each once the server is quiet.`,
    tables: [{
      head: [
        "N steps",
        "warm total ms",
        "warm ms/step",
        "replay total ms",
        "replay ms/step",
        "replay / warm",
      ],
      rows: SIZES.map((n) => [
        `${n}`,
        ms(w.total(n)),
        ms(w.total(n) / n),
        ms(r.total(n)),
        ms(r.total(n) / n),
        ratio(r.total(n) / w.total(n)),
      ]),
    }, {
      head: [
        `N = ${big}, one request`,
        "#1 (start) ms",
        "#2–#11 ms",
        `#${big - 9}–#${big} ms`,
        "late / early",
      ],
      rows: [
        ["warm resume", ms(w.start), ms(w.early), ms(w.late), ratio(w.late / w.early)],
        ["forced replay", ms(r.start), ms(r.early), ms(r.late), ratio(r.late / r.early)],
      ],
    }, {
      head: [
        `Python, forced replay (N = ${PY_STEPS})`,
        "trivial step (`print(1)`) ms",
        `replaying steps #2–#${PY_STEPS + 1} ms`,
        "replay − trivial ms",
      ],
      rows: [[
        "`--warm-resume-ttl 0`, back to back",
        ms(py.trivial),
        ms(py.replay),
        ms(py.replay - py.trivial),
      ], [
        "`--warm-resume-ttl 0`, paced (a warm worker ready)",
        ms(py.trivial),
        ms(py.paced),
        ms(py.paced - py.trivial),
      ]],
    }],
    notes: [
      `Steps as the servers logged them: warm server ${JSON.stringify(logged)} (expected ` +
      `${expectedWarm} warm), replay server ${JSON.stringify(modes.replay.counts)}.`,
    ],
    checks: [
      {
        group: "capacity",
        what: `Python forced-replay step (\`--warm-resume-ttl 0\`, N = ${PY_STEPS}), per request`,
        wanted: "≤ 150 ms",
        measured: `${ms(py.replay)} ms back to back, ${ms(py.paced)} ms paced (a trivial ` +
          `Python step: ${ms(py.trivial)} ms)`,
        met: py.replay <= 150,
        ...(py.replay > 150
          ? {
            why: "back to back, every request waits for a fresh worker to replace the one the " +
              "request before used up: at least the CPU of a Python worker's start (see the " +
              "Python CPU check) over the cores making them; paced, it finds one ready",
          }
          : {}),
      },
      {
        group: "step API",
        what: `step API, warm resume: resume latency, requests #${
          big - 9
        }–#${big} / #2–#11 (N = ${big})`,
        wanted: `≤ ${FLAT}× (linear total)`,
        measured: `${ratio(w.late / w.early)} (${ms(w.late)} vs ${ms(w.early)} ms)`,
        met: w.late / w.early <= FLAT,
      },
      {
        group: "step API",
        what: "step API, default server: every step after the first resumed warm",
        wanted: `${expectedWarm} warm`,
        measured: anyLogged
          ? `${logged.warm ?? 0} warm, ${logged.replay ?? 0} replay`
          : "the servers logged no step lines",
        met: anyLogged ? logged.warm === expectedWarm && !logged.replay : undefined,
      },
    ],
  };
}

/**
 * Python steps on the replay server: a trivial one-request program, and a program of
 * `PY_STEPS` calls whose every request after the first replays the calls before it, sent back
 * to back (each waits for the worker the one before used up to be replaced), and paced as an
 * agent's are by its tools (each finds a warm worker: the server is quiet before it).
 */
async function pythonReplay(
  ctx: Ctx,
  server: Server,
  reps: number,
): Promise<{ trivial: number; replay: number; paced: number }> {
  const trivialBody = { code: "print(1)\n", tool_names: [], language: "python" };
  const trivial: number[] = [];
  const replays: number[] = [];
  const paced: number[] = [];
  await drive(server, 2, "python");
  for (let rep = 0; rep < reps; rep++) {
    ctx.log(`step_api: Python forced replay, run ${rep + 1}/${reps}`);
    await settle(server);
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const answer = await step(server, { ...trivialBody, state: null, tool_results: null });
      trivial.push(performance.now() - t);
      if (answer.type !== "success") {
        throw new Error(`Python trivial step failed: ${JSON.stringify(answer).slice(0, 300)}`);
      }
    }
    await settle(server);
    replays.push(...(await drive(server, PY_STEPS, "python")).steps.slice(1));
    await settle(server);
    const quiet = () => settle(server);
    paced.push(...(await drive(server, PY_STEPS, "python", quiet)).steps.slice(1));
  }
  return { trivial: median(trivial), replay: median(replays), paced: median(paced) };
}
