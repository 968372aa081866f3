/**
 * The session state's codec in process: a history round-trips through its token, results kept
 * as JSON text are spliced in as they are, code that holds the placeholder text survives, and a
 * step state and a session state are never taken for each other.
 *
 * @module
 */
import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { JsonText } from "../runner/host_messages.ts";
import { StateCodec, StateTokenError } from "../server/state_token.ts";

const LIMITS = { maxStateBytes: 1 << 20, maxAgeMs: 60_000 };

Deno.test("StateCodec.encodeSession() round-trips a history, JSON text results and tricky code included", async () => {
  const codec = await StateCodec.create("secret");
  const code = `const s = '"records":0 "programs":0'; // {"records":0}`;
  const state = {
    id: "session-id-0000000001",
    language: "typescript" as const,
    programs: [{
      code,
      tools: ["add"],
      determinism: "strict" as const,
      records: {
        "0#0": { h: "a", r: new JsonText(`{"records":0,"x":[1, 2]}`, 24) },
        "0#1": { h: "b", e: "boom" },
      },
    }, {
      code: "print(1)",
      tools: [],
      modules: { records: "x = 0" },
      determinism: "order_only" as const,
      records: {},
    }],
    live: "live-id",
    iat: Date.now(),
  };
  const encoded = await codec.encodeSession(state, LIMITS.maxStateBytes);
  if (!("token" in encoded)) throw new Error("too large");
  strictEqual(encoded.token.split(".")[0], "s1");
  const back = await codec.decodeSession(encoded.token, LIMITS);
  deepStrictEqual(back.programs[0]!.records["0#0"], { h: "a", r: { records: 0, x: [1, 2] } });
  deepStrictEqual(back.programs[0]!.code, code);
  deepStrictEqual(back.programs[1], state.programs[1]);
  deepStrictEqual([back.id, back.language, back.live], [state.id, state.language, state.live]);
});

Deno.test("StateCodec: a step state is not a session state, nor the reverse", async () => {
  const codec = await StateCodec.create("secret");
  const step = await codec.encode({
    program: "p",
    determinism: "strict",
    records: {},
    pending: [],
    session: "s",
    hold: "h",
    step: 1,
    iat: Date.now(),
  }, LIMITS.maxStateBytes);
  const session = await codec.encodeSession(
    { id: "s", language: "python", programs: [], live: "l", iat: Date.now() },
    LIMITS.maxStateBytes,
  );
  if (!("token" in step) || !("token" in session)) throw new Error("too large");
  const reason = (promise: Promise<unknown>) =>
    rejects(promise, (error) => error instanceof StateTokenError && error.reason === "malformed");
  await reason(codec.decodeSession(step.token, LIMITS));
  await reason(codec.decode(session.token, LIMITS));
  // The kind is signed: the prefix swapped, the signature fails.
  const swapped = `p2.${session.token.slice(3)}`;
  await rejects(
    codec.decode(swapped, LIMITS),
    (error) => error instanceof StateTokenError && error.reason === "signature",
  );
});
