/**
 * `deno task test`: every test file in its own `deno test` process, `--jobs` (default: the
 * cores, or `DENO_JOBS`) at a time, the slowest first (by this machine's last run, else by
 * `tests/times.json`); then the doc tests. Each file's output is
 * printed whole when it ends (with its wall time and, on Linux, the CPU of its process and of the
 * processes it waited for: sandbox hosts still running when it ends are not counted), and a
 * summary at the end; the exit code is 1 if any failed.
 *
 * Why processes, not `deno test --parallel`: that runs files as workers of one process, which
 * share its pid, children, environment and signal handlers, and the tests check exactly those
 * (the sandbox hosts a server leaves are this process's children; `env_test.ts` sets variables
 * a sandbox must not see). Every file is also safe to run beside any other: servers listen on
 * port 0 (or a port just found free), temporary files are made with unique names, and the
 * shared caches (`.venv/`, the Python snapshot, the runtimes) are built under a lock or written
 * to a temporary name and renamed.
 *
 * A file that mostly waits (its first comment says `progtc-test: waits`: on timeouts, a load
 * balancer's checks, clients' and servers' starts; measured, its CPU under a third of its wall
 * time) runs in one more lane beside the `--jobs` ones, while those run the others: two cores
 * packed with files that leave one idle half the time lose about a minute of the suite.
 *
 * A file that loads the whole machine by design (its first comment says `progtc-test: alone`)
 * runs by itself, after the others: beside it, a neighbour's sandbox hosts would start past
 * their ready timeout and its timed waits would stretch; and after it, on a virtual machine
 * whose host takes freed memory back, the next files' first pages fault slowly (a clean CI run:
 * a Python timeout test right after the memory burst saw its 1 s timeout end after 4.5 s).
 *
 * ```sh
 * deno task test                      # everything
 * deno task test tests/cli_test.ts    # some files (no doc tests)
 * deno task test tests/security       # a directory
 * deno task test:strict               # the isolation suites with a process per program
 * deno task test --jobs=1             # one file at a time
 * ```
 *
 * Everything is type-checked once, first (`deno check --doc`), and each file then runs with
 * `--no-check`; `--no-check` skips the first check too (`deno task ok` has just made it).
 *
 * @module
 */

import { clockTicks, procStat } from "../bench/_lib.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TIMES = `${ROOT}.cache/test-times.json`;
const SEED_TIMES = `${ROOT}tests/times.json`;
const decoder = new TextDecoder();

/** One unit of work: a test file, or the doc tests. */
interface Item {
  name: string;
  args: string[];
  /** Runs with no other file beside it. */
  alone?: boolean;
  /** Mostly waits: runs in the extra lane (or in any once the others are done). */
  waits?: boolean;
}

interface Outcome {
  item: Item;
  ok: boolean;
  ms: number;
  /** CPU of the file's process and of the processes it waited for, when known. */
  cpuMs?: number;
  output: string;
  summary: string;
}

/**
 * CPU time of this process's reaped children, in ms (`/proc`; undefined elsewhere). Read as
 * each file's process is reaped, the growth since the last read is that file's (two reaped at
 * the same moment are counted to the first).
 */
async function reapedCpuMs(): Promise<number | undefined> {
  const stat = await procStat(Deno.pid);
  return stat && (stat.cutime + stat.cstime) * 1000 / clockTicks;
}
let lastReapedCpuMs: number | undefined;

async function testFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "npm") files.push(...await testFiles(path));
    else if (entry.isFile && /_test\.ts$/.test(entry.name)) files.push(path);
  }
  return files;
}

/**
 * Times of the last run, by item, to start the slowest first: this machine's, over the times
 * committed beside this file (a fresh clone has no others; two cores packed in name order
 * instead of slowest first lose minutes).
 */
async function lastTimes(): Promise<Record<string, number>> {
  const read = async (path: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(path));
    } catch {
      return {};
    }
  };
  return { ...await read(SEED_TIMES), ...await read(TIMES) };
}

/** Where the doc tests are: every module outside tests/ (a test file there has none). */
const DOC_ROOTS = [
  "mod.ts",
  "cli.ts",
  "protocol.ts",
  "client/",
  "server/",
  "runner/",
  "npm/",
  "examples/",
  "bench/",
];

async function run(item: Item): Promise<Outcome> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-check", ...item.args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const reaped = await reapedCpuMs();
  const cpuMs = reaped === undefined || lastReapedCpuMs === undefined
    ? undefined
    : reaped - lastReapedCpuMs;
  lastReapedCpuMs = reaped;
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  const summary = text.match(/^(ok|FAILED) \| .*$/m)?.[0] ?? `exit code ${output.code}`;
  const ms = performance.now() - started;
  return {
    item,
    ok: output.success,
    ms,
    ...(cpuMs === undefined ? {} : { cpuMs }),
    output: text,
    summary,
  };
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function main(args: string[]): Promise<number> {
  const jobsArg = args.find((a) => a.startsWith("--jobs="));
  const jobs =
    Number(jobsArg?.slice(7) ?? Deno.env.get("DENO_JOBS") ?? navigator.hardwareConcurrency) ||
    2;
  const chosen = args.filter((a) => !a.startsWith("--"));
  const files: string[] = [];
  for (const path of chosen) {
    const isDirectory = (await Deno.stat(`${ROOT}${path}`)).isDirectory;
    files.push(...isDirectory ? await testFiles(path.replace(/\/$/, "")) : [path]);
  }
  if (chosen.length === 0) files.push(...await testFiles("tests"));
  files.sort();
  const items: Item[] = await Promise.all(
    files.map(async (file) => {
      const text = await Deno.readTextFile(`${ROOT}${file}`);
      return {
        name: file,
        args: [file],
        alone: text.includes("progtc-test: alone"),
        waits: text.includes("progtc-test: waits"),
      };
    }),
  );
  // The doc tests: the JSDoc examples of every module (the test files have none).
  if (chosen.length === 0) items.push({ name: "doc tests", args: ["--doc", ...DOC_ROOTS] });
  if (!args.includes("--no-check")) {
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--doc", ...(chosen.length > 0 ? chosen : ["."])],
      cwd: ROOT,
    }).output();
    if (!check.success) return 1;
  }
  const times = await lastTimes();
  items.sort((a, b) => (times[b.name] ?? 60_000) - (times[a.name] ?? 60_000));
  const started = performance.now();
  lastReapedCpuMs = await reapedCpuMs();
  const outcomes: Outcome[] = [];
  const report = (outcome: Outcome) => {
    outcomes.push(outcome);
    const cpu = outcome.cpuMs === undefined ? "" : `, ${seconds(outcome.cpuMs)} s CPU`;
    console.log(
      `${outcome.ok ? "ok    " : "FAILED"} ${outcome.item.name} (${
        seconds(outcome.ms)
      } s${cpu}): ${outcome.summary}`,
    );
    if (!outcome.ok) console.log(outcome.output);
  };
  const busy = items.filter((item) => !item.alone && !item.waits);
  const waiting = items.filter((item) => !item.alone && item.waits);
  /** Runs the first file of the first of `queues` that has one, until all are empty. */
  const lane = async (queues: Item[][]) => {
    for (;;) {
      const item = queues.find((queue) => queue.length > 0)?.shift();
      if (!item) return;
      report(await run(item));
    }
  };
  await Promise.all([
    ...Array.from({ length: jobs }, () => lane([busy, waiting])),
    ...jobs > 1 ? [lane([waiting])] : [],
  ]);
  for (const item of items.filter((item) => item.alone)) report(await run(item));
  const failed = outcomes.filter((o) => !o.ok);
  await Deno.mkdir(`${ROOT}.cache`, { recursive: true });
  await Deno.writeTextFile(
    TIMES,
    JSON.stringify(
      { ...times, ...Object.fromEntries(outcomes.map((o) => [o.item.name, Math.round(o.ms)])) },
      null,
      1,
    ),
  );
  const wall = seconds(performance.now() - started);
  const cpuMs = outcomes.reduce((sum, o) => sum + (o.cpuMs ?? 0), 0);
  console.log(
    `\n${failed.length === 0 ? "ok" : "FAILED"}: ${
      outcomes.length - failed.length
    } of ${outcomes.length} files passed in ${wall} s (${jobs} at a time${
      jobs > 1 ? ", and one that waits" : ""
    })${cpuMs > 0 ? `, ${seconds(cpuMs)} s of CPU` : ""}`,
  );
  for (const outcome of failed) console.log(`  FAILED ${outcome.item.name}: ${outcome.summary}`);
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
