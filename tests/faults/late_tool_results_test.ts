/**
 * A tool result for an execution that already ended: 409 tool_call_not_pending for a strict
 * client, the reference's 200 null otherwise; an execution the server never ran is a 404.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { assertStillServes, openStream, post, startServer } from "../_helpers.ts";
import { STRICT } from "./_faults.ts";

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
