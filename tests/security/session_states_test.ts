/**
 * Attempts on the step API's session states (`session_state`), by someone who holds a state,
 * or the signing key: a state edited after it was issued, a step state passed as a session state
 * and the reverse, an expired one, one longer than any the server issues, one that inflates to
 * gigabytes, one whose history names a kept realm with other programs. Each is refused with its
 * fixed code (or rebuilt, never given another session's realm), and the server serves on. The
 * server never issues a session state over `--max-state-bytes`.
 *
 * progtc-test: waits (1.6 s of CPU in 5.3 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { API_KEY, assertStillServes, delay, post, startServer } from "../_helpers.ts";
import { deflatedZeros, mint } from "./_forged_tokens.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** The first step of a session program on `url`, with `fields` (a `session_state`, …). */
function first(url: string, fields: Record<string, unknown>, code = "console.log(x)") {
  return post(`${url}/execute-code-step`, { code, tool_names: [], ...fields });
}

async function refusedWith(response: Response, status: number, code: string): Promise<void> {
  const body = await response.json();
  deepStrictEqual([response.status, body.code], [status, code], JSON.stringify(body));
}

/** The JSON of a token (the test holds the key too). */
function open(token: string): Record<string, unknown> {
  const payload = Uint8Array.fromBase64(token.split(".")[1]!, { alphabet: "base64url" });
  return JSON.parse(new TextDecoder().decode(inflateRawSync(payload)));
}

Deno.test("edited, swapped, expired, overlong and inflating session states are refused with their codes", async () => {
  await using t = await startServer({ stateMaxAgeMs: 3000 });
  const session = t.client.session({ api: "step" });
  await session.executeCode({ code: `const x = "mine";`, tools: {} });
  const state = session.state!;
  // One character of the payload changed: the signature no longer holds.
  const [kind, payload, mac] = state.split(".");
  const flipped = payload!.slice(0, 10) + (payload![10] === "A" ? "B" : "A") + payload!.slice(11);
  await refusedWith(
    await first(t.url, { session_state: `${kind}.${flipped}.${mac}` }),
    400,
    "state_signature",
  );
  // A step state is not a session state, nor the reverse (the kind is signed).
  const paused = await t.client.executeCodeStep({
    code: `import { a } from "tools"; await a();`,
    toolNames: ["a"],
  });
  strictEqual(paused.type, "tool_call");
  const stepState = paused.type === "tool_call" ? paused.state : "";
  await refusedWith(await first(t.url, { session_state: stepState }), 400, "state_malformed");
  await refusedWith(
    await post(`${t.url}/execute-code-step`, {
      code: `import { a } from "tools"; await a();`,
      tool_names: ["a"],
      state,
      tool_results: [1],
    }),
    400,
    "state_malformed",
  );
  await refusedWith(
    await first(t.url, { session_state: `s1.${payload}.${stepState.split(".")[2]}` }),
    400,
    "state_signature",
  );
  // A step state's payload signed as a session state: it does not decode as one.
  const resigned = await mint(
    API_KEY,
    deflateRawSync(encoder.encode(JSON.stringify(open(stepState)))),
    "s1",
  );
  await refusedWith(await first(t.url, { session_state: resigned }), 400, "state_malformed");
  // Longer than any state of --max-state-bytes (4 MiB) makes: refused before any work.
  await refusedWith(
    await first(t.url, { session_state: `s1.${"A".repeat(6 * MiB)}.x` }),
    413,
    "state_too_large",
  );
  // Signed, small, and inflating to 256 MiB: zlib stops at the cap.
  const bomb = await mint(API_KEY, await deflatedZeros(256 * MiB), "s1");
  await refusedWith(await first(t.url, { session_state: bomb }), 400, "state_malformed");
  // The real state still works, then expires.
  const ok200 = await (await first(t.url, { session_state: state })).json();
  deepStrictEqual([ok200.type, ok200.stdout], ["success", "mine\n"]);
  await delay(3100);
  await refusedWith(await first(t.url, { session_state: state }), 400, "state_expired");
  await assertStillServes(t);
});

Deno.test("a session state minted to name another session's kept realm with other programs is rebuilt, never given that realm", async () => {
  await using t = await startServer();
  const victim = t.client.session({ api: "step" });
  await victim.executeCode({ code: `const secret = "victim's";`, tools: {} });
  const attacker = t.client.session({ api: "step" });
  await attacker.executeCode({ code: `const secret = "attacker's";`, tools: {} });
  // The attacker knows the victim's realm id (say it leaked) and holds the key.
  const forged = { ...open(attacker.state!), live: open(victim.state!).live };
  const token = await mint(API_KEY, deflateRawSync(encoder.encode(JSON.stringify(forged))), "s1");
  const result = await (await first(t.url, { session_state: token }, "console.log(secret)")).json();
  deepStrictEqual([result.type, result.stdout], ["success", "attacker's\n"]);
  match(t.logs.join("\n"), /session \w+ rebuilt: 1 programs/);
  // The victim's realm is still its own.
  strictEqual(
    (await victim.executeCode({ code: "console.log(secret)", tools: {} })).stdout,
    "victim's\n",
  );
});

Deno.test("the server never issues a session state over --max-state-bytes: the program that would make it ends the session", async () => {
  await using t = await startServer({ maxStateBytes: 64 * 1024 });
  const session = t.client.session({ api: "step" });
  // Incompressible results of ~34 KB: the session records one within 64 KiB, not two.
  const big = () => crypto.getRandomValues(new Uint8Array(25_500)).toBase64();
  const code =
    `import { big } from "tools"; const v${"$"} = (await big()).length; console.log(v${"$"});`;
  const one = await session.executeCode({ code: code.replaceAll("$", "1"), tools: { big } });
  deepStrictEqual([one.type, one.stdout], ["success", "34000\n"]);
  ok(session.state && session.state.length < 64 * 1024 * 1.4);
  const two = await session.executeCode({ code: code.replaceAll("$", "2"), tools: { big } });
  strictEqual(two.type, "runtime_error");
  strictEqual(two.stdout, "34000\n");
  match(two.stderr, /the session state \(\d+ bytes\) would exceed the limit of 65536 bytes/);
  strictEqual(two.session_ended, true);
  strictEqual("session_state" in two, false);
  ok(session.ended);
  await assertStillServes(t);
});
