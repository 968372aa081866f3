/**
 * A fake host whose program lines break the protocol: a line that is not JSON, a call to a tool
 * the program was not given, a reused call id, calls not answered past their bound. That
 * program ends with one runtime_error saying so; its worker is stopped and its host serves on.
 * What a program sends after its end is dropped.
 *
 * The fake hosts come from `_fake_server.ts`.
 *
 * @module
 */
import { deepStrictEqual, equal, match, strictEqual } from "node:assert/strict";
import { post, readFrames, waitFor } from "../_helpers.ts";
import { nextSandbox } from "./_faults.ts";
import {
  broke,
  fakeRun,
  type Fault,
  runFault,
  startFakeServer,
  unexpected,
} from "./_fake_server.ts";

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
