/**
 * A fake host that breaks the protocol itself, or dies: it exits or aborts mid-run, writes a
 * line that names no program, forges a program's end, announces a worker with no thread, or
 * writes a line past the limit. The host is killed, its program ends with one runtime_error
 * saying so (out of memory only when its abort can be the program's own), and the same server
 * serves the next program from a fresh host; the same during a step.
 *
 * The fake hosts come from `_fake_server.ts`.
 *
 * progtc-test: waits (3.6 s of CPU in 10.4 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, equal, match, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { post, readFrames, waitFor } from "../_helpers.ts";
import { assertKilled, nextSandbox } from "./_faults.ts";
import {
  broke,
  fakeRun,
  type Fault,
  runFault,
  startFakeServer,
  unexpected,
} from "./_fake_server.ts";

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
