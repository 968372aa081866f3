/**
 * A flood of tool calls: a program that issues many large calls at once has at most a bound
 * of them sent and not answered (`maxPendingCallChars`: one step answer, 16 MiB, and the
 * longest line, 1 MiB + 64 KiB, so 17 calls of 1 MB); the others wait in its worker, in order,
 * until answers make room, and every call is answered. Before, its host's relay queued every
 * line for the socket: a host of one program (`--host-max-programs 1`) stopped at its data
 * rlimit (SIGABRT). A program whose lines cross the bound anyway (one that writes protocol
 * lines itself) is a violation: `faults/program_faults_test.ts`.
 *
 * progtc-test: waits (7.0 s of CPU in 17.7 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { Language } from "../../client/mod.ts";
import { assertStillServes, attempt, startServer } from "./_attempt.ts";

const CALLS = 40;
/** Calls of 1 MB sent and not answered at most: 17 lines of ~1,000,100 characters. */
const BOUND_CALLS = 17;

const FLOOD: Record<"typescript" | "python", string> = {
  typescript: `import { store } from "tools";
const big = "x".repeat(1_000_000);
const sizes = await Promise.all(Array.from({ length: ${CALLS} }, (_, i) => store(i, big)));
console.log(sizes.length, sizes.every((size, i) => size === 1_000_000 + i));`,
  python: `import asyncio
from tools import store
big = "x" * 1_000_000
sizes = await asyncio.gather(*(store(i, big) for i in range(${CALLS})))
print(len(sizes), all(size == 1_000_000 + i for i, size in enumerate(sizes)))`,
};

/**
 * A tool that holds its answers until no call came for a second: the most calls it holds at
 * once is the most the program had sent and not answered.
 */
function holdingTool() {
  const held: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const state = { most: 0, calls: 0 };
  const release = () => {
    for (const answer of held.splice(0)) answer();
  };
  const store = async (i: number, text: string) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    held.push(resolve);
    state.calls++;
    state.most = Math.max(state.most, held.length);
    clearTimeout(timer);
    timer = setTimeout(release, 1000);
    await promise;
    return text.length + i;
  };
  return { state, store, done: () => clearTimeout(timer) };
}

for (const language of ["typescript", "python"] as const satisfies Language[]) {
  Deno.test(`${language}: ${CALLS} calls of 1 MB at once: ${BOUND_CALLS} at a time reach the client, the others wait in the program's worker, and all are answered`, async () => {
    await using server = await startServer();
    const tool = holdingTool();
    try {
      const { result } = await attempt(server, FLOOD[language], {
        language,
        tools: { store: tool.store },
      });
      deepStrictEqual(result, {
        type: "success",
        stdout: language === "python" ? `${CALLS} True\n` : `${CALLS} true\n`,
        stderr: "",
      });
    } finally {
      tool.done();
    }
    strictEqual(tool.state.calls, CALLS);
    strictEqual(tool.state.most, BOUND_CALLS);
    await assertStillServes(server, language);
  });
}
