/**
 * A server whose sandbox hosts are fake, for `host_faults_test.ts` and
 * `program_faults_test.ts`: a fake runtime (a shell script given to the server as its Deno
 * binary) runs `tests/_fake_host.ts`, which speaks the sandbox protocol and then breaks it as the
 * program's text asks (`FAULT:<name>`). Also the fault cases' shape, the errors a broken protocol
 * ends a program with, and one program run through each.
 *
 * @module
 */
import { deepStrictEqual, equal, match, ok, strictEqual } from "node:assert/strict";
import { post, readFrames, startServer } from "../_helpers.ts";
import { ROOT } from "./_faults.ts";

/**
 * A stand-in for the Deno binary: it answers `--version` as Deno does (the server checks its
 * sandboxes' Deno at start) and otherwise runs `tests/_fake_host.ts` with the real Deno,
 * passing its own path and the host's command line; that host speaks the protocol until a
 * program's text names a fault.
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
export async function startFakeServer(options: { hostMaxPrograms?: number | undefined } = {}) {
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

/** What a program ends with when its sandbox broke the protocol as `detail` says. */
export const broke = (detail: string) =>
  `Error: the sandbox was stopped because it broke the protocol (${detail})\n`;
/** The same, for a line the server could not place. */
export const unexpected = (line: string) =>
  broke(`unexpected line from sandbox: ${JSON.stringify(line)}`);

/** The fake host's own answer to a program with no fault: its pid. */
export async function fakeRun(url: string): Promise<number> {
  const frames = await readFrames(await post(`${url}/execute-code`, { code: "", tool_names: [] }));
  strictEqual(frames.length, 1, JSON.stringify(frames));
  const { type, stdout } = frames[0] as { type: string; stdout: string };
  strictEqual(type, "success", JSON.stringify(frames));
  const pid = Number(/^fake ok (\d+)\n$/.exec(stdout)?.[1]);
  ok(pid > 0, stdout);
  return pid;
}

/** One fault the fake host commits on request, and how its program must end. */
export interface Fault {
  fault: string;
  title: string;
  stderr: string;
  log: RegExp;
  /** Tool calls that reach the client before the end (the first of a reused id). */
  calls?: number;
  /** Programs per host, when the fault depends on it. */
  hostMaxPrograms?: number;
}

/**
 * Runs the program that asks for `f` on a fake server and checks its end: one runtime_error
 * (after `f.calls` tool calls), no host path in what the client gets, one log line.
 */
export async function runFault(fake: Awaited<ReturnType<typeof startFakeServer>>, f: Fault) {
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
