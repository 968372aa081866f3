/**
 * `pendingCalls` alone (the bound of a program's calls not answered, in its worker): what it
 * sends at once, what it keeps, in which order it sends what it kept, and which answers free
 * room. The same with real sandboxes: `security/call_flood_test.ts`.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { pendingCalls } from "../sandbox/pending_calls.ts";
import { encodeServerMessage } from "../runner/host_messages.ts";
import { utf8Length } from "../sandbox/text.ts";

/** A call's line of `size` characters or a little more. */
const line = (id: number, size = 100) =>
  `{"type":"tool_call","id":${id},"args":["${"x".repeat(size)}"]}`;
const idOf = (text: string) => Number(/"id":(\d+)/.exec(text)?.[1]);

function calls(bound: number) {
  const sent: string[] = [];
  const pending = pendingCalls((text) => sent.push(text), utf8Length);
  pending.bound = bound;
  return { pending, sent, ids: () => sent.map(idOf) };
}

Deno.test("pendingCalls() sends calls while they fit, keeps the others in order, and sends them as answers make room", () => {
  const { pending, sent, ids } = calls(300);
  for (const id of [1, 2, 3, 4]) pending.call(id, line(id));
  deepStrictEqual(ids(), [1, 2]);
  deepStrictEqual(pending.sent([1, 2, 3, 4]), [1, 2]);
  pending.answered(encodeServerMessage({ type: "tool_result", id: 2, value: { id: 9 } }));
  deepStrictEqual(ids(), [1, 2, 3]);
  pending.answered(
    encodeServerMessage({ type: "tool_error", id: 1, name: "ToolError", message: '"id":7' }),
  );
  deepStrictEqual(ids(), [1, 2, 3, 4]);
  // A kept call goes out as it was made.
  strictEqual(sent[3], line(4));
  deepStrictEqual(pending.sent([1, 2, 3, 4]), [1, 2, 3, 4]);
});

Deno.test("pendingCalls() frees the room of every call a batch answers, and of nothing else", () => {
  const { pending, ids } = calls(300);
  for (const id of [1, 2, 3, 4, 5]) pending.call(id, line(id));
  // An answer to a call it never sent, and a line that answers nothing, free nothing.
  pending.answered(encodeServerMessage({ type: "tool_result", id: 5, value: null }));
  pending.answered('{"type":"stop"}');
  deepStrictEqual(ids(), [1, 2]);
  pending.answered(encodeServerMessage({
    type: "tool_results",
    items: [
      { type: "tool_result", id: 1, value: [{ type: "tool_result", id: 3 }] },
      { type: "tool_error", id: 2, name: "ToolError", message: "no" },
    ],
  }));
  deepStrictEqual(ids(), [1, 2, 3, 4]);
});

Deno.test("pendingCalls() sends a call larger than the bound when nothing else waits, and keeps a call as the line its rebuild makes", () => {
  const { pending, sent, ids } = calls(50);
  pending.call(1, line(1, 500));
  pending.call(2, "ignored", () => line(2));
  deepStrictEqual(ids(), [1]);
  pending.answered(encodeServerMessage({ type: "tool_result", id: 1, value: 1 }));
  deepStrictEqual(sent, [line(1, 500), line(2)]);
});

Deno.test("pendingCalls() forgets its calls on clear(): nothing kept is sent, and the room is whole", () => {
  const { pending, ids } = calls(300);
  for (const id of [1, 2, 3]) pending.call(id, line(id));
  pending.clear();
  pending.answered(encodeServerMessage({ type: "tool_result", id: 1, value: 1 }));
  deepStrictEqual(ids(), [1, 2]);
  pending.call(1, line(1));
  pending.call(2, line(2));
  deepStrictEqual(ids(), [1, 2, 1, 2]);
});
