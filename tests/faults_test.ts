/**
 * Faults (issue 5): a sandbox that crashes, exits silently, or writes garbage or forged lines to
 * its protocol pipe; sandboxes that cannot start; clients that disconnect at any point; a tool
 * result for an execution that already ended; SIGTERM to the server. Each one ends with what
 * happened said once, leaves no sandbox process behind, and the server keeps serving. (A slow
 * SSE reader is in `limits_test.ts`.)
 *
 * Broken sandboxes come from a fake runtime: a bash script given to the server as its Deno
 * binary, which speaks the sandbox protocol and then breaks it as the program's text asks.
 *
 * @module
 */
import { deepStrictEqual, equal, match, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { serve } from "../server/serve.ts";
import {
  API_KEY,
  assertStillServes,
  delay,
  openStream,
  post,
  readFrames,
  startServer,
  type TestServer,
  waitFor,
} from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const STRICT = { "x-progtc-api-key": API_KEY, prefer: "handling=strict" };

// ─── helpers ────────────────────────────────────────────────────────────────────────────────

/** Resolves as `promise`, or rejects once `ms` have passed. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`Not within ${ms} ms: ${what}`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Live (not zombie) child processes of `parent`, without the `ps` that lists them. */
async function liveChildren(parent: number = Deno.pid): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=,comm=", "--ppid", String(parent)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat, comm]) => pid && !stat?.startsWith("Z") && comm !== "ps")
    .map(([pid]) => Number(pid));
}

/** Those of `pids` that are still live processes (whoever their parent is now). */
async function anyAlive(pids: number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=", "-p", pids.join(",")],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && !stat?.startsWith("Z")).map(([pid]) => Number(pid));
}

/** The one warm sandbox of a server with `poolSize: 1`: the next execution runs in it. */
async function nextSandbox(): Promise<number> {
  let children: number[] = [];
  // An earlier server's idle sandboxes were killed, not waited for: let them go first.
  await waitFor(
    "one warm sandbox",
    async () => (children = await liveChildren()).length === 1,
    2000,
  ).catch((error) => {
    throw new Error(`${error.message} (pids ${children.join(", ")})`);
  });
  return children[0]!;
}

/**
 * Waits until the program that ran on host `pid` is stopped: its slot is free (the server frees
 * it once the worker's thread is gone from /proc), and the host, still alive, serves on.
 */
async function assertStopped(t: TestServer, pid: number, what: string): Promise<void> {
  await waitFor(
    `${what}: the program's worker is gone`,
    () => t.server.app.runner.stats("deno").programs === 0,
    3000,
  );
  deepStrictEqual(await anyAlive([pid]), [pid], `${what}: the host died`);
  ok(t.server.app.runner.pids("deno").includes(pid), `${what}: the host was retired`);
}

/** Waits until `pid` is gone and only the warm pool (one sandbox) is left. */
async function assertKilled(pid: number, what: string, timeoutMs = 3000): Promise<void> {
  await waitFor(
    `${what}: sandbox ${pid} is killed`,
    async () => (await anyAlive([pid])).length === 0,
    timeoutMs,
  );
  await waitFor(
    `${what}: only the warm pool is left`,
    async () => (await liveChildren()).length <= 1,
  );
}

// ─── a fake host that breaks the protocol ───────────────────────────────────────────────────

/**
 * A stand-in for the Deno binary: it answers `--version` as Deno does (the server checks its
 * sandboxes' Deno at start) and otherwise runs `_fake_host.ts` with the real Deno, passing its
 * own path and the host's command line; that host speaks the protocol until a program's text
 * names a fault.
 */
const fakeRuntime = (path: string) =>
  `#!/bin/sh
if [ "$1" = --version ]; then echo "deno 2.9.6 (fake runtime)"; exit 0; fi
exec ${Deno.execPath()} run --quiet --no-config --no-lock --allow-all ${ROOT}tests/_fake_host.ts "${path}" "$@"
`;

/**
 * A server whose sandbox hosts are fake; disposing removes its directory. Its hosts run the
 * suite's programs per host unless `hostMaxPrograms` says.
 */
async function startFakeServer(options: { hostMaxPrograms?: number | undefined } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "progtc-faults-" });
  const denoPath = `${dir}/deno`;
  await Deno.writeTextFile(denoPath, fakeRuntime(denoPath), { mode: 0o755 });
  // Bounds small enough for a fake host to cross: its calls not answered may take 12288
  // characters (8 KiB of step answer and one line).
  const t = await startServer({
    denoPath,
    maxLineLength: 4096,
    maxStepAnswerBytes: 8192,
    poolSize: 1,
    ...(options.hostMaxPrograms ? { hostMaxPrograms: options.hostMaxPrograms } : {}),
  });
  return {
    t,
    dir,
    async [Symbol.asyncDispose]() {
      await t[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const broke = (detail: string) =>
  `Error: the sandbox was stopped because it broke the protocol (${detail})\n`;
const unexpected = (line: string) => broke(`unexpected line from sandbox: ${JSON.stringify(line)}`);

/** The fake host's own answer to a program with no fault: its pid. */
async function fakeRun(url: string): Promise<number> {
  const frames = await readFrames(await post(`${url}/execute-code`, { code: "", tool_names: [] }));
  strictEqual(frames.length, 1, JSON.stringify(frames));
  const { type, stdout } = frames[0] as { type: string; stdout: string };
  strictEqual(type, "success", JSON.stringify(frames));
  const pid = Number(/^fake ok (\d+)\n$/.exec(stdout)?.[1]);
  ok(pid > 0, stdout);
  return pid;
}

interface Fault {
  fault: string;
  title: string;
  stderr: string;
  log: RegExp;
  /** Tool calls that reach the client before the end (the first of a reused id). */
  calls?: number;
  /** Programs per host, when the fault depends on it. */
  hostMaxPrograms?: number;
}

/** What a program that held too much memory alone in its host ends with. */
const MEMORY_LIMIT = "RangeError: the program exceeded its memory limit and was stopped\n";

/** Faults of the host itself: the host is killed, and every program on it hears why. */
const HOST_FAULTS: Fault[] = [
  {
    fault: "exit0",
    title: "exits 0 silently mid-run",
    stderr: "Error: the sandbox stopped unexpectedly (exit code 0)\n",
    log: /runtime_error \(crashed: exit code 0\)/,
  },
  {
    fault: "exit3",
    title: "exits 3 with a message naming a host path",
    stderr: "Error: the sandbox stopped unexpectedly (exit code 3)\n",
    log: /runtime_error \(crashed: exit code 3: fake runtime: giving up in \/.+\/deno\)/,
  },
  {
    fault: "abort",
    title: "aborts (SIGABRT)",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGABRT)\n",
    log: /runtime_error \(crashed: signal SIGABRT: fake runtime: fatal error in \/.+\/deno\)/,
  },
  // Its one program is the only one that could have written the line after it started.
  {
    fault: "alloc_abort",
    title: "runs one program at most and aborts (SIGABRT) right after the runtime said an " +
      "allocation failed",
    stderr: MEMORY_LIMIT,
    log: /runtime_error \(out_of_memory\)/,
    hostMaxPrograms: 1,
  },
  {
    fault: "alloc_abort_bare",
    title: "runs one program at most and aborts (SIGABRT) right after the runtime said an " +
      "allocation failed, without Rust's note on backtraces",
    stderr: MEMORY_LIMIT,
    log: /runtime_error \(out_of_memory\)/,
    hostMaxPrograms: 1,
  },
  // A program beside it could have written the line.
  {
    fault: "alloc_abort",
    title: "runs two programs at most and aborts (SIGABRT) right after the runtime said an " +
      "allocation failed",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGABRT)\n",
    log: /runtime_error \(crashed: signal SIGABRT: note: run with `RUST_BACKTRACE=1` .+\)/,
    hostMaxPrograms: 2,
  },
  {
    fault: "abort_silent",
    title: "runs one program at most and aborts (SIGABRT) saying nothing",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGABRT)\n",
    log: /runtime_error \(crashed: signal SIGABRT\)/,
    hostMaxPrograms: 1,
  },
  {
    fault: "garbage",
    title: "writes a line that names no program",
    stderr: unexpected("not a protocol line"),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "host_forged",
    title: "forges a program's end as its own message",
    stderr: unexpected('{"type":"success"}'),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "other_slot",
    title: "writes a line for a program it does not run",
    stderr: broke("a line for program 1001, which is not running"),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "no_thread",
    title: "announces a worker that has no thread",
    stderr: broke("its worker 9999 has no thread"),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "long_line",
    title: "writes a line longer than the limit",
    stderr: broke("RangeError: Line is longer than 4128 characters"),
    log: /runtime_error \(violation\)/,
  },
];

/** Faults in one program's lines: that program ends, its host serves on. */
const PROGRAM_FAULTS: Fault[] = [
  {
    fault: "broken_json",
    title: "writes a program line that is not JSON",
    stderr: unexpected('{"type":"output","stream":"stdout"'),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "forged_call",
    title: "forges a tool_call for a tool the program was not given",
    stderr: broke('call to unknown tool "not_given"'),
    log: /runtime_error \(violation\)/,
  },
  {
    fault: "reused_id",
    title: "reuses a call id",
    stderr: broke("reused call id 1"),
    log: /runtime_error \(violation\)/,
    calls: 1,
  },
  {
    fault: "unanswered_flood",
    title: "sends calls not answered past their bound",
    stderr: broke("tool calls not answered over 12288 characters"),
    log: /runtime_error \(violation\)/,
    calls: 3,
  },
];

async function runFault(fake: Awaited<ReturnType<typeof startFakeServer>>, f: Fault) {
  const { t } = fake;
  const response = await post(`${t.url}/execute-code`, {
    code: `FAULT:${f.fault}`,
    tool_names: ["given"],
  });
  strictEqual(response.status, 200);
  const text = await response.text();
  for (const path of [fake.dir, ROOT]) {
    ok(!text.includes(path), `a host path reached the client: ${text}`);
  }
  const frames = await readFrames(new Response(text));
  deepStrictEqual(frames.slice(f.calls ?? 0), [{
    type: "runtime_error",
    stdout: "",
    stderr: f.stderr,
  }]);
  deepStrictEqual(frames.slice(0, f.calls ?? 0).map((x) => [x.type, x.tool_name, x.args]), [
    ...Array.from({ length: f.calls ?? 0 }, () => ["tool_call", "given", [1]]),
  ]);
  equal(t.logs.length, 1, t.logs.join("\n"));
  match(t.logs[0]!, f.log);
  strictEqual(t.server.app.running, 0);
}

for (const f of HOST_FAULTS) {
  Deno.test(`a host that ${f.title} ends its program with one runtime_error saying so, and is replaced`, async () => {
    await using fake = await startFakeServer({ hostMaxPrograms: f.hostMaxPrograms });
    const pid = await nextSandbox();
    await runFault(fake, f);
    await assertKilled(pid, f.fault);
    // The same server serves the next program from a fresh (fake) host.
    notStrictEqual(await fakeRun(fake.t.url), pid);
  });
}

for (const f of PROGRAM_FAULTS) {
  Deno.test(`a program line that ${f.title} ends that program only, with one runtime_error`, async () => {
    await using fake = await startFakeServer();
    const pid = await nextSandbox();
    await runFault(fake, f);
    // Its worker was stopped and its slot freed; the host serves on.
    await waitFor("the slot is free", () => fake.t.server.app.runner.stats("deno").programs === 0);
    strictEqual(await fakeRun(fake.t.url), pid);
  });
}

Deno.test("a host of one program that aborts (SIGABRT) after an earlier program on it wrote that an allocation failed ends its program as stopped unexpectedly", async () => {
  await using fake = await startFakeServer({ hostMaxPrograms: 1 });
  const { t } = fake;
  const pid = await nextSandbox();
  const forged = await readFrames(
    await post(`${t.url}/execute-code`, { code: "FAULT:forge_alloc", tool_names: [] }),
  );
  deepStrictEqual(forged, [{ type: "success", stdout: `fake ok ${pid}\n`, stderr: "" }]);
  await waitFor("the slot is free", () => t.server.app.runner.stats("deno").programs === 0);
  // The next program goes to the host that ran the forger (the first of the idle ones).
  ok(t.server.app.runner.pids("deno").includes(pid), "the forger's host was retired");
  const frames = await readFrames(
    await post(`${t.url}/execute-code`, { code: "FAULT:abort_silent", tool_names: [] }),
  );
  deepStrictEqual(frames, [{
    type: "runtime_error",
    stdout: "",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGABRT)\n",
  }]);
  // It ran where the line was written: that host is the one that died.
  await assertKilled(pid, "forge_alloc");
  equal(t.logs.length, 2, t.logs.join("\n"));
  match(
    t.logs[1]!,
    /runtime_error \(crashed: signal SIGABRT: note: run with `RUST_BACKTRACE=1` .+\)/,
  );
});

Deno.test("what a program sends after its end is dropped: only the success reaches the client, and the host serves on", async () => {
  await using fake = await startFakeServer();
  const { t } = fake;
  const pid = await nextSandbox();
  const frames = await readFrames(
    await post(`${t.url}/execute-code`, { code: "FAULT:success_then_more", tool_names: ["given"] }),
  );
  deepStrictEqual(frames, [{ type: "success", stdout: "done\n", stderr: "" }]);
  equal(t.logs.length, 1, t.logs.join("\n"));
  match(t.logs[0]!, /success \(success\)/);
  strictEqual(await fakeRun(t.url), pid);
});

Deno.test("a sandbox that crashes or breaks the protocol during a step answers the step with runtime_error", async () => {
  await using fake = await startFakeServer();
  const { t } = fake;
  // The host dies of the first two; the third ends its program only.
  const expected = [
    ["abort", "Error: the sandbox stopped unexpectedly (signal SIGABRT)\n", true],
    ["exit0", "Error: the sandbox stopped unexpectedly (exit code 0)\n", true],
    ["forged_call", broke('call to unknown tool "not_given"'), false],
  ] as const;
  for (const [fault, stderr, hostDies] of expected) {
    const pid = await nextSandbox();
    const response = await post(`${t.url}/execute-code-step`, {
      code: `FAULT:${fault}`,
      tool_names: ["given"],
    });
    strictEqual(response.status, 200, fault);
    const text = await response.text();
    ok(!text.includes(fake.dir), `a host path reached the client: ${text}`);
    deepStrictEqual(JSON.parse(text), { type: "runtime_error", stdout: "", stderr }, fault);
    if (hostDies) await assertKilled(pid, fault);
    else strictEqual(await fakeRun(t.url), pid);
    await t.server.app.runner.warm();
  }
  const steps = t.logs.filter((line) => line.startsWith("step "));
  strictEqual(steps.length, 3, t.logs.join("\n"));
  for (const line of steps) match(line, /^step [0-9a-f]{32} #1 runtime_error \(start, /);
});

// ─── real sandboxes that crash ──────────────────────────────────────────────────────────────

Deno.test("a real host that dies of a signal ends every program on it with one frame naming the signal", async () => {
  // A program cannot signal its host (Deno.kill refuses: security/sys_test.ts); a runtime panic
  // or a C-level abort ends in SIGABRT, sent here from outside. Three programs share the host
  // (also in the strict mode: what ends with a shared host is the point).
  await using t = await startServer({ poolSize: 1, hostMaxPrograms: 8 });
  const pid = await nextSandbox();
  const streams = await Promise.all(
    [1, 2, 3].map((n) =>
      openStream(t.url, {
        code: `import { wait } from "tools"; console.log("before ${n}"); await wait();`,
        tool_names: ["wait"],
      })
    ),
  );
  for (const stream of streams) strictEqual((await stream.next()).type, "tool_call");
  Deno.kill(pid, "SIGABRT");
  const ends = await Promise.all(streams.map((stream) => stream.rest()));
  deepStrictEqual(
    ends,
    [1, 2, 3].map((n) => [{
      type: "runtime_error",
      stdout: `before ${n}\n`,
      stderr:
        "Error: the sandbox stopped unexpectedly (signal SIGABRT) (with the 2 other programs it ran)\n",
    }]),
  );
  await assertKilled(pid, "SIGABRT");
  for (const line of t.logs) match(line, /runtime_error \(crashed: signal SIGABRT/);
  await assertStillServes(t);
});

Deno.test("a real sandbox killed from outside while a tool call is pending ends the stream with runtime_error", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { wait } from "tools"; console.log("calling"); console.log(await wait());`,
    tool_names: ["wait"],
  });
  const call = await stream.next();
  strictEqual(call.type, "tool_call");
  Deno.kill(pid, "SIGKILL");
  deepStrictEqual(await stream.rest(), [{
    type: "runtime_error",
    stdout: "calling\n",
    stderr: "Error: the sandbox stopped unexpectedly (signal SIGKILL)\n",
  }]);
  match(t.logs[0]!, /runtime_error \(crashed: signal SIGKILL\) .*, 1 tool calls/);
  // The answer comes too late: our client is told, the reference client gets its 200.
  const answer = { execution_id: call.execution_id, tool_call_id: call.id, result: 1 };
  const strict = await post(`${t.url}/tool-results`, answer, STRICT);
  strictEqual(strict.status, 409);
  strictEqual((await strict.json()).code, "tool_call_not_pending");
  await assertKilled(pid, "killed from outside");
  await assertStillServes(t);
});

// ─── sandboxes that cannot start ────────────────────────────────────────────────────────────

/**
 * A runtime binary that disappears once the server has checked it: it answers the check at start
 * (`--version`) and deletes itself, so every sandbox spawn after that finds no binary. (A binary
 * missing at start is refused then: cli_test.ts.)
 */
async function vanishingDeno(path: string): Promise<void> {
  await Deno.writeTextFile(
    path,
    '#!/bin/sh\nif [ "$1" = --version ]; then echo "deno 2.9.6 (vanishing)"; rm -f -- "$0"; exit 0; fi\n' +
      "exit 1\n",
    { mode: 0o755 },
  );
}

for (const prlimitPath of [undefined, null]) {
  const how = prlimitPath === null ? "spawned directly" : "behind prlimit";
  Deno.test(`a runtime binary gone after start (${how}) gets 503 sandbox_unavailable, and the pool backs off`, async () => {
    const spawnErrors: number[] = [];
    const logs: string[] = [];
    const dir = await Deno.makeTempDir({ prefix: "progtc-faults-" });
    const denoPath = `${dir}/deno`;
    await vanishingDeno(denoPath);
    const started = Date.now();
    await using server = await serve({
      apiKey: API_KEY,
      port: 0,
      poolSize: 1,
      pythonPoolSize: 0,
      denoPath,
      ...(prlimitPath === null ? { prlimitPath } : {}),
      onSpawnError: () => spawnErrors.push(Date.now() - started),
      log: (line) => logs.push(line),
    });
    await delay(1000);
    const inOneSecond = spawnErrors.length;
    ok(inOneSecond >= 2, `the pool stopped retrying: ${inOneSecond} attempts`);
    ok(inOneSecond <= 6, `the pool retries in a busy loop: ${inOneSecond} attempts in 1 s`);

    for (const path of ["/execute-code", "/execute-code-step"]) {
      const response = await post(`${server.url}${path}`, { code: "1", tool_names: [] });
      strictEqual(response.status, 503, path);
      strictEqual(response.headers.get("content-type"), "application/problem+json");
      strictEqual(response.headers.get("retry-after"), "1");
      const text = await response.text();
      ok(!text.includes(dir), `the binary's path reached the client: ${text}`);
      const body = JSON.parse(text);
      strictEqual(body.code, "sandbox_unavailable");
      strictEqual(body.status, 503);
    }
    // One line for each sandbox that did not start, one for each refused request.
    const unavailable = logs.filter((line) => line.startsWith("sandbox unavailable"));
    strictEqual(unavailable.length, 2, logs.join("\n"));
    for (const line of unavailable) match(line, /^sandbox unavailable: Sandbox did not start: /);
    deepStrictEqual(logs.filter((line) => !unavailable.includes(line)), [
      "refused POST /execute-code: 503 sandbox_unavailable",
      "refused POST /execute-code-step: 503 sandbox_unavailable",
    ]);
    strictEqual((await fetch(`${server.url}/ping`)).status, 200);
    strictEqual(server.app.running, 0);
    // Each failed start leaves nothing behind.
    await waitFor("no sandbox process is left", async () => (await liveChildren()).length === 0);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("when the runtime binary comes back, the pool refills by itself and executions run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "progtc-faults-" });
  try {
    const denoPath = `${dir}/deno`;
    await vanishingDeno(denoPath);
    let spawnErrors = 0;
    await using server = await serve({
      apiKey: API_KEY,
      port: 0,
      poolSize: 1,
      pythonPoolSize: 0,
      denoPath,
      onSpawnError: () => spawnErrors++,
      log: () => {},
    });
    await waitFor("a spawn fails", () => spawnErrors > 0);
    await Deno.symlink(Deno.execPath(), denoPath);
    // Failed spawns back off up to 5 s.
    await waitFor("the pool refills", () => server.app.runner.stats("deno").ready === 1, 8000);
    const frames = await readFrames(
      await post(`${server.url}/execute-code`, { code: `console.log("back")`, tool_names: [] }),
    );
    deepStrictEqual(frames, [{ type: "success", stdout: "back\n", stderr: "" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ─── clients that disconnect ────────────────────────────────────────────────────────────────

Deno.test("a client that disconnects before the first frame gets its busy program stopped with its host", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, { code: "while (true) {}", tool_names: [] });
  await waitFor("the execution runs", () => t.server.app.running === 1);
  await delay(300); // it spins
  await stream.abort();
  // Deno does not stop a worker in an endless loop: its host is killed.
  await assertKilled(pid, "disconnect before the first frame");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(t.logs[0]!, /^execution [0-9a-f]{32} runtime_error \(the client disconnected\) /);
  strictEqual(t.server.app.running, 0);
  await assertStillServes(t);
});

Deno.test("a client that disconnects while a tool call is pending gets its program stopped", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { ask } from "tools"; console.log(await ask("?"));`,
    tool_names: ["ask"],
  });
  const call = await stream.next();
  strictEqual(call.type, "tool_call");
  await stream.abort();
  await assertStopped(t, pid, "disconnect while a tool call is pending");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(
    t.logs[0]!,
    /runtime_error \(the client disconnected\) .*, 1 tool calls, sandbox \d+ run \d+$/,
  );
  strictEqual(t.server.app.running, 0);
  await assertStillServes(t);
});

Deno.test("a client that disconnects after posting a result, before the terminal frame, gets its busy program stopped with its host", async () => {
  await using t = await startServer();
  const pid = await nextSandbox();
  const stream = await openStream(t.url, {
    code: `import { ask } from "tools";
console.log(await ask("?"));
while (true) {}`,
    tool_names: ["ask"],
  });
  const call = await stream.next();
  const answer = await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result: "yes",
  }, STRICT);
  strictEqual(answer.status, 200);
  strictEqual(await answer.text(), "null");
  await delay(100); // the program prints and spins
  await stream.abort();
  await assertKilled(pid, "disconnect after posting a result");
  await waitFor("the execution is logged", () => t.logs.length === 1);
  match(
    t.logs[0]!,
    /runtime_error \(the client disconnected\) .*, 1 tool calls, sandbox \d+ run \d+$/,
  );
  await assertStillServes(t);
});

Deno.test("a client that disconnects while waiting for an execution slot takes no slot", async () => {
  // With a program per host (the strict mode) the pool starts hosts for the waiting request and
  // one more while the holder's slot frees; those retire once idle for --host-idle-timeout, so
  // it is short here: what must be gone at the end is the disconnected program's host.
  await using t = await startServer({
    maxConcurrent: 1,
    queueTimeoutMs: 5000,
    hostIdleTimeoutMs: 1000,
  });
  const holder = await openStream(t.url, {
    code: `import { hold } from "tools"; await hold();`,
    tool_names: ["hold"],
  });
  const call = await holder.next();
  const queued = new AbortController();
  const waiting = fetch(`${t.url}/execute-code`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ code: "while (true) {}", tool_names: [] }),
    signal: queued.signal,
  }).catch((error) => error);
  await delay(200);
  queued.abort();
  strictEqual((await waiting as Error).name, "AbortError");
  await (await post(`${t.url}/tool-results`, {
    execution_id: call.execution_id,
    tool_call_id: call.id,
    result: null,
  })).body?.cancel();
  deepStrictEqual(await holder.rest(), [{ type: "success", stdout: "", stderr: "" }]);
  // The queued request got the slot when it freed: its client is gone, so its program must not
  // keep the only slot (and a sandbox) until the execution timeout.
  await waitFor("no execution runs", () => t.server.app.running === 0, 3000);
  await waitFor("only the warm pool is left", async () => (await liveChildren()).length <= 1);
  deepStrictEqual(
    t.logs.map((line) =>
      line.replace(/^execution [0-9a-f]{32} /, "").replace(/ [\d.]+ ms,/, "")
        .replace(/, sandbox \d+ run \d+$/, "")
    ),
    [
      "success (success) 1 tool calls",
      "runtime_error (the client disconnected) 0 tool calls",
    ],
  );
  await assertStillServes(t);
});

Deno.test("a step client that disconnects while its step runs gets its busy program stopped with its host, and its slot freed", async () => {
  // One slot: a step run that outlives its client would hold it until the execution timeout.
  await using t = await startServer({
    maxConcurrent: 1,
    queueTimeoutMs: 500,
    codeExecutionTimeoutMs: 4000,
  });
  const pid = await nextSandbox();
  const controller = new AbortController();
  const step = fetch(`${t.url}/execute-code-step`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify({ code: `console.log("spinning"); while (true) {}`, tool_names: [] }),
    signal: controller.signal,
  }).catch((error) => error);
  await delay(300);
  controller.abort();
  strictEqual((await step as Error).name, "AbortError");
  await assertKilled(pid, "step client disconnected");
  await waitFor("the step is logged", () => t.logs.length === 1, 1000);
  match(t.logs[0]!, /^step [0-9a-f]{32} #1 runtime_error \(start, the client disconnected\) /);
  await assertStillServes(t);
});

// ─── tool results for executions that ended ─────────────────────────────────────────────────

Deno.test("a tool result for an execution that ended: 409 when strict, the reference's 200 null otherwise", async () => {
  await using t = await startServer();
  // The program issues a call and ends without waiting for it.
  const stream = await openStream(t.url, {
    code: `import { later } from "tools"; later(); console.log("done");`,
    tool_names: ["later"],
  });
  const call = await stream.next();
  strictEqual(call.type, "tool_call");
  deepStrictEqual(await stream.rest(), [{ type: "success", stdout: "done\n", stderr: "" }]);
  const answer = { execution_id: call.execution_id, tool_call_id: call.id, result: 1 };

  const strict = await post(`${t.url}/tool-results`, answer, STRICT);
  strictEqual(strict.status, 409);
  strictEqual(strict.headers.get("content-type"), "application/problem+json");
  const problem = await strict.json();
  strictEqual(problem.code, "tool_call_not_pending");
  strictEqual(problem.detail, "The execution has already ended");

  const lenient = await post(`${t.url}/tool-results`, answer);
  strictEqual(lenient.status, 200);
  strictEqual(await lenient.text(), "null");

  // An execution this server never ran is still a 404, either way.
  const unknown = await post(`${t.url}/tool-results`, {
    ...answer,
    execution_id: "0".repeat(32),
  });
  strictEqual(unknown.status, 404);
  strictEqual((await unknown.json()).code, "unknown_execution");
  await assertStillServes(t);
});

// ─── SIGTERM to the server ──────────────────────────────────────────────────────────────────

/** A free port a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** CPU time process `pid` has used, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** `cli.ts serve` as a user starts it, its output collected. */
class CliServer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  output = "";
  #reading: Promise<unknown>;
  #watching: Promise<void> | undefined;
  /** Every sandbox pid seen, to kill leftovers if the server fails to. */
  seen = new Set<number>();

  constructor(port: number, args: string[] = []) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "cli.ts",
        "serve",
        "--port",
        String(port),
        "--api-key",
        API_KEY,
        "--pool-size",
        "1",
        ...args,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this.output += text;
    };
    this.#reading = Promise.all([read(this.child.stdout), read(this.child.stderr)]);
  }

  async sandboxes(): Promise<number[]> {
    const pids = await liveChildren(this.child.pid);
    for (const pid of pids) this.seen.add(pid);
    return pids;
  }

  /** Lists the server's children until it exits, so that `seen` has every sandbox. */
  watchUntilExit(): Promise<void> {
    let exited = false;
    this.child.status.then(() => exited = true);
    return this.#watching ??= (async () => {
      while (!exited) {
        await this.sandboxes();
        await delay(10);
      }
    })();
  }

  async ready(): Promise<void> {
    await waitFor("the CLI listens", () => this.output.includes("listening on"), 30_000);
    await waitFor("the pool is warm", async () => (await this.sandboxes()).length >= 1, 10_000);
  }

  /** Resolves with the exit status, or `undefined` if the process still runs after `ms`. */
  async exitWithin(ms: number): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.child.status,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
    ]);
    clearTimeout(timer);
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#reading;
    await this.#watching;
    for (const pid of await anyAlive([...this.seen])) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

Deno.test("SIGTERM with --drain-timeout 0 ends every running execution with a terminal frame, then the server exits 0", async () => {
  await using cli = new CliServer(freePort(), ["--drain-timeout", "0"]);
  await cli.ready();
  const waiting = await openStream(cli.url, {
    code: `import { never } from "tools"; console.log("waiting"); await never();`,
    tool_names: ["never"],
  });
  strictEqual((await waiting.next()).type, "tool_call");
  const spinning = await openStream(cli.url, {
    code: `console.log("spinning"); while (true) {}`,
    tool_names: [],
    stream_output: true,
  });
  deepStrictEqual(await spinning.next(), { type: "stdout", data: "spinning\n" });
  const sandboxes = await cli.sandboxes();
  ok(sandboxes.length >= 2, `sandboxes: ${sandboxes.join(", ")}`);

  const watching = cli.watchUntilExit();
  const signalled = performance.now();
  cli.child.kill("SIGTERM");
  const [waited, spun] = await within(
    5000,
    "the terminal frames",
    Promise.all([waiting.rest(), spinning.rest()]),
  );
  deepStrictEqual(waited, [{
    type: "runtime_error",
    stdout: "waiting\n",
    stderr: "Error: the server is shutting down\n",
  }]);
  deepStrictEqual(spun, [{
    type: "runtime_error",
    stdout: "spinning\n",
    stderr: "Error: the server is shutting down\n",
  }]);
  const status = await cli.exitWithin(5000);
  ok(status, `the server still runs 5 s after SIGTERM:\n${cli.output}`);
  strictEqual(status.code, 0, cli.output);
  const seconds = (performance.now() - signalled) / 1000;
  ok(seconds < 5, `took ${seconds} s`);
  match(cli.output, /SIGTERM: refusing new executions, draining running ones/);
  match(cli.output, /drain timeout: ending 2 executions still running/);
  strictEqual(cli.output.match(/runtime_error \(the server is shutting down\)/g)?.length, 2);
  await watching;
  await waitFor(
    "no sandbox survives the server",
    async () => (await anyAlive([...cli.seen])).length === 0,
    2000,
  );
});

Deno.test("SIGTERM with --drain-timeout 0 during a running step answers it with a terminal result, then the server exits 0", async () => {
  await using cli = new CliServer(freePort(), [
    "--code-execution-timeout",
    "20",
    "--drain-timeout",
    "0",
  ]);
  await cli.ready();
  const step = post(`${cli.url}/execute-code-step`, {
    code: `console.log("spinning"); while (true) {}`,
    tool_names: [],
  }).catch((error: unknown) => error);
  // The program spins: its host (whichever of the pool took it) burns a core, for longer than
  // a start-up could (~300 ms of CPU in all), even when the suite's other file shares the cores.
  await waitFor("the step spins", async () => {
    const hosts = await cli.sandboxes();
    const before = hosts.map(cpuMs);
    await delay(600);
    return hosts.some((host, i) => cpuMs(host) - before[i]! >= 350);
  });
  const watching = cli.watchUntilExit();
  cli.child.kill("SIGTERM");
  const status = await cli.exitWithin(5000);
  ok(status, `the server still runs 5 s after SIGTERM (a running step holds it):\n${cli.output}`);
  strictEqual(status.code, 0, cli.output);
  const response = await step;
  ok(response instanceof Response, `the step request failed: ${response}`);
  strictEqual(response.status, 200);
  deepStrictEqual(await response.json(), {
    type: "runtime_error",
    stdout: "spinning\n",
    stderr: "Error: the server is shutting down\n",
  });
  await watching;
  await waitFor(
    "no sandbox survives the server",
    async () => (await anyAlive([...cli.seen])).length === 0,
    2000,
  );
});
