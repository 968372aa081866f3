/**
 * How many warm workers a host keeps ahead of its programs (`sandbox/relay.ts`): two while it
 * has room, one once it is full (a spare a full host cannot use until a program ends costs a
 * Python host ~45 MiB). Counted from outside, as the server counts them: the worker threads of
 * the host process in `/proc`, less its relay's and its programs'.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import type { Language } from "../client/mod.ts";
import { workerThreads } from "../runner/host_check.ts";
import { startServer, waitFor } from "./_helpers.ts";

const HOLD: Record<"typescript" | "python", string> = {
  typescript: `import { hold } from "tools";\nconsole.log(await hold());`,
  python: `from tools import hold\nprint(await hold())`,
};

for (const language of ["typescript", "python"] as const) {
  Deno.test(`a ${language} host keeps two spares while it has room, one when it is full`, async () => {
    const kind = language === "python" ? "python" : "deno";
    await using t = await startServer(
      language === "python"
        ? { poolSize: 0, pythonPoolSize: 1, pythonHostMaxPrograms: 3 }
        : { poolSize: 1, hostMaxPrograms: 3 },
    );
    const [pid] = t.server.app.runner.pids(kind);
    const sparesWith = (programs: number, spares: number) =>
      waitFor(
        `${spares} spares beside ${programs} programs`,
        () => workerThreads(pid!).length === 1 + programs + spares,
        10_000,
      );
    await sparesWith(0, 2);
    const release = Promise.withResolvers<string>();
    const held: Promise<unknown>[] = [];
    for (const [programs, spares] of [[1, 2], [2, 2], [3, 1]] as const) {
      const called = Promise.withResolvers<void>();
      held.push(t.client.executeCode({
        language: language as Language,
        code: HOLD[language],
        tools: {
          hold: () => {
            called.resolve();
            return release.promise;
          },
        },
      }));
      await called.promise;
      await sparesWith(programs, spares);
    }
    strictEqual(t.server.app.runner.pids(kind).length, 1, "the programs ran on one host");
    release.resolve("released");
    for (const result of await Promise.all(held)) {
      strictEqual(
        JSON.stringify(result),
        JSON.stringify({ type: "success", stdout: "released\n", stderr: "" }),
      );
    }
    await sparesWith(0, 2);
  });
}
