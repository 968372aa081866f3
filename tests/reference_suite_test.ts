/**
 * The reference package's own test suites (progtc 0.1.17 and 0.2.0, from their sdists), run
 * unchanged with pytest against our server: `deno run … cli.ts serve --language python
 * --api-key 1234567890 --port 0` in a subprocess, the reference's defaults for everything else
 * (its suites run its server with `ServerConfig()`'s defaults: tool call timeout 10 s, code
 * execution timeout 30 s, which are ours too). Our fixtures replace the reference's conftest
 * (`tests/reference/conftest_ours.py`); see `tests/reference/setup.ts` for the sources and venvs.
 *
 * Part of `deno task test`; alone:
 *
 * ```sh
 * deno test --allow-all tests/reference_suite_test.ts
 * ```
 *
 * Environment:
 * - `PROGTC_SERVER_ROOT`: a checkout whose `cli.ts` to run (e.g. a `git worktree` of HEAD in
 *   /tmp), instead of this one.
 * - `PROGTC_TEST_SERVER`: the URL of a server already running (not started here), or
 *   `reference` to run the suites against the reference's own app, in process (the control).
 * - `PROGTC_REFERENCE_VERSIONS`: a comma-separated subset of the versions to run.
 *
 * The whole pytest output of each version is written to `.cache/reference/pytest-<version>.log`.
 *
 * @module
 */
import { needsPython, REFERENCE_VERSIONS, type ReferenceVersion } from "./interop/venv.ts";
import { ensureReferenceSuite, type ReferenceSuite } from "./reference/setup.ts";

const API_KEY = "1234567890";
const REPO = new URL("../", import.meta.url).pathname;
const PLUGIN_DIR = new URL("./reference/", import.meta.url).pathname;
const LOG_DIR = `${REPO}.cache/reference/`;
/** Tests each suite holds: a run that collects fewer did not run the whole suite. */
const EXPECTED_TESTS: Record<ReferenceVersion, number> = { "0.1.17": 47, "0.2.0": 65 };
const PYTEST_TIMEOUT_MS = 5 * 60_000;
const START_TIMEOUT_MS = 120_000;

function selectedVersions(): ReferenceVersion[] {
  const wanted = Deno.env.get("PROGTC_REFERENCE_VERSIONS");
  if (!wanted) return [...REFERENCE_VERSIONS];
  const names = wanted.split(",").map((v) => v.trim()).filter(Boolean);
  const unknown = names.filter((v) => !(REFERENCE_VERSIONS as readonly string[]).includes(v));
  if (unknown.length) throw new Error(`Unknown reference versions: ${unknown.join(", ")}`);
  return REFERENCE_VERSIONS.filter((v) => names.includes(v));
}

/** A server the suites talk to; disposing stops it if we started it. */
interface Target extends AsyncDisposable {
  url: string;
  /** The end of what the server printed when it has exited (for failure reports), else "". */
  output(): string;
}

/** Keeps the last `limit` characters of a stream, read to its end. */
function drain(stream: ReadableStream<Uint8Array>, limit = 64 * 1024) {
  let text = "";
  const listeners: ((text: string) => void)[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text = (text + decoder.decode(chunk, { stream: true })).slice(-limit);
      for (const listener of listeners) listener(text);
    }
  })();
  return {
    done,
    text: () => text,
    onText: (listener: (text: string) => void) => listeners.push(listener),
  };
}

async function startOurServer(): Promise<Target> {
  const root = Deno.env.get("PROGTC_SERVER_ROOT")?.replace(/\/?$/, "/") ?? REPO;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // As `deno task serve` runs it.
      "--allow-all",
      `${root}cli.ts`,
      "serve",
      "--language",
      "python",
      "--api-key",
      API_KEY,
      "--port",
      "0",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = drain(child.stdout);
  const stderr = drain(child.stderr);
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  const printed = () =>
    `--- server stderr (end) ---\n${stderr.text().slice(-4096)}\n` +
    `--- server stdout (end) ---\n${stdout.text().slice(-4096)}`;
  const output = () => exited ? `The server exited with ${exited.code}\n${printed()}` : "";
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, 10_000);
    await child.status;
    clearTimeout(killer);
    await Promise.all([stdout.done, stderr.done]);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`The server did not listen within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      // The listening line is an info record: on stdout (warnings and errors on stderr).
      const onText = (text: string) => {
        const match = text.match(/listening on (http:\/\/\S+)/);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      stdout.onText(onText);
      stderr.onText(onText);
      child.status.then((status) => {
        clearTimeout(timer);
        reject(new Error(`The server exited with ${status.code} before listening`));
      });
    });
    await warmUp(url);
    return { url, output, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw new Error(`${error instanceof Error ? error.message : error}\n${printed()}`);
  }
}

/**
 * Waits until the server runs a Python program. The reference's fixture yields once uvicorn has
 * started and its first program costs one `spawn`; our first Python sandbox may still be loading
 * (the suites' first test has httpx's default 5 s timeout), so run one program first.
 */
async function warmUp(url: string): Promise<void> {
  const response = await fetch(`${url}/execute-code-step`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ tool_names: [], code: "print('warm')" }),
    signal: AbortSignal.timeout(START_TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.status !== 200 || !body.includes('"success"')) {
    throw new Error(`The warm-up program failed: ${response.status} ${body}`);
  }
}

/** What one pytest run gave. */
interface PytestRun {
  code: number;
  timedOut: boolean;
  output: string;
  log: string;
  /** `FAILED …` and `ERROR …` lines of the short test summary. */
  failures: string[];
  /** The final line, e.g. `8 failed, 57 passed in 41.20s`. */
  summary: string;
  counts: Record<string, number>;
}

async function runPytest(suite: ReferenceSuite, url: string): Promise<PytestRun> {
  const noProxy = ["127.0.0.1", "localhost", Deno.env.get("NO_PROXY")].filter(Boolean).join(",");
  const child = new Deno.Command(suite.python, {
    args: [
      "-m",
      "pytest",
      "--noconftest", // the reference's conftest.py starts its own app: ours replaces it
      "-p",
      "conftest_ours",
      "-p",
      "no:cacheprovider",
      "-q",
      "-rfE",
      "--tb=short",
      "--color=no",
      "tests",
    ],
    cwd: suite.root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      PYTHONPATH: PLUGIN_DIR,
      PROGTC_TEST_SERVER: url,
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONIOENCODING: "utf-8",
      COLUMNS: "200", // the short summary's failure messages are cut to the terminal's width
      NO_PROXY: noProxy,
      no_proxy: noProxy,
    },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, PYTEST_TIMEOUT_MS);
  let result: Deno.CommandOutput;
  try {
    result = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const decoder = new TextDecoder();
  const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
  const log = `${LOG_DIR}pytest-${suite.version}.log`;
  await Deno.writeTextFile(log, output);
  const lines = output.split("\n");
  const failures = lines.filter((line) => /^(FAILED|ERROR) /.test(line));
  const summaryPattern = /^=*\s*(\d+ \w+(, \d+ \w+)*) in [\d.]+s/;
  const summary =
    lines.findLast((line) => summaryPattern.test(line))?.replace(/^=+\s*|\s*=+$/g, "") ??
      "(no pytest summary line)";
  const counts: Record<string, number> = {};
  for (const [, n, what] of summary.matchAll(/(\d+) (\w+)/g)) {
    counts[what!.replace(/s$/, "")] = Number(n);
  }
  return { code: result.code, timedOut, output, log, failures, summary, counts };
}

// One file, one server, the versions one after the other, as the reference runs its suite: the
// suites' client gives up after httpx's default 5 s, which two suites at once on a busy machine
// (each against its own server) once exceeded waiting for a Python sandbox.
Deno.test({
  name: "the reference's own test suites pass against our server",
  ...needsPython,
  sanitizeOps: false, // fetch's timeout signal of the warm-up
  async fn(t) {
    const versions = selectedVersions();
    // Sources and venvs first: a network failure is not a failure of the server.
    const suites = await Promise.all(versions.map(ensureReferenceSuite));
    const given = Deno.env.get("PROGTC_TEST_SERVER");
    await using target: Target = given
      ? { url: given, output: () => "", [Symbol.asyncDispose]: async () => {} }
      : await startOurServer();
    for (const suite of suites) {
      await t.step(`progtc ${suite.version}`, async () => {
        const run = await runPytest(suite, target.url);
        const ran = Object.entries(run.counts).filter(([k]) => k !== "warning")
          .reduce((sum, [, n]) => sum + n, 0);
        console.log(`progtc ${suite.version}: ${run.summary} (full output: ${run.log})`);
        const expected = EXPECTED_TESTS[suite.version];
        if (run.code === 0 && !run.timedOut && ran === expected) return;
        const why = run.timedOut
          ? `pytest was killed after ${PYTEST_TIMEOUT_MS / 1000} s`
          : run.code === 0
          ? `pytest ran ${ran} tests, the suite holds ${expected}`
          : `pytest exited with ${run.code}`;
        throw new Error(
          [
            `progtc ${suite.version}'s own test suite against ${target.url}: ${why}`,
            `summary: ${run.summary}`,
            ...run.failures,
            `full output: ${run.log}`,
            run.failures.length ? "" : run.output.split("\n").slice(-40).join("\n"),
            target.output(),
          ].filter(Boolean).join("\n"),
        );
      });
    }
  },
});
