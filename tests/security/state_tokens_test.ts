/**
 * Attempts on the step API's state tokens by someone who holds the signing key (by default every
 * client: it derives from the API key): a token that inflates to gigabytes, a state just over the
 * limit, a token naming another session's paused execution. Each refused with its code, the
 * server serving afterwards, and the state tokens the server issues always accepted.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { API_KEY, assertOnlyPoolHosts, post, startServer } from "../_helpers.ts";
import { procStatusBytes, spawnServer } from "../_process.ts";
import { deflatedZeros, mint } from "./_forged_tokens.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

/** The JSON of a token the server issued (the test holds the key too). */
function open(token: string): Record<string, unknown> {
  const payload = Uint8Array.fromBase64(token.split(".")[1]!, { alphabet: "base64url" });
  return JSON.parse(new TextDecoder().decode(inflateRawSync(payload)));
}

const CODE = `import { a } from "tools"; console.log("got", await a());`;

const stepBody = (state: string, results: unknown[] = [1]) => ({
  code: CODE,
  tool_names: ["a"],
  state,
  tool_results: results,
});

Deno.test("a minted token that inflates to 2 GiB is refused as malformed, and the server's peak memory stays flat", async () => {
  await using server = await spawnServer();
  const bomb = await mint(API_KEY, await deflatedZeros(2048 * MiB));
  ok(bomb.length < 4 * MiB, `${bomb.length}`);
  // First requests, so the peak below counts only the bomb: an execution, and a body as large
  // as the bomb's (the server parses large bodies in a worker it starts on first use).
  strictEqual((await server.client.executeCode({ code: "1", tools: {} })).type, "success");
  const warm = await post(
    `${server.url}/execute-code-step`,
    stepBody(`p2.${"A".repeat(bomb.length)}.x`),
  );
  strictEqual((await warm.json()).code, "state_malformed");
  const before = procStatusBytes(server.pid, "VmHWM");
  for (let i = 0; i < 3; i++) {
    const response = await post(`${server.url}/execute-code-step`, stepBody(bomb));
    strictEqual(response.status, 400);
    strictEqual((await response.json()).code, "state_malformed");
  }
  const grew = procStatusBytes(server.pid, "VmHWM") - before;
  // The cap is --max-state-bytes (4 MiB) of JSON; the old code inflated the whole payload.
  ok(grew < 64 * MiB, `the server's peak grew by ${(grew / MiB).toFixed(0)} MiB`);
  const result = await server.client.executeCode({ code: "console.log(2)", tools: {} });
  deepStrictEqual(result, { type: "success", stdout: "2\n", stderr: "" });
});

Deno.test("a signed state of valid JSON over --max-state-bytes is refused; a token over the longest issuable one is 413", async () => {
  await using t = await startServer({ maxStateBytes: 64 * 1024 });
  const state = {
    program: "x",
    determinism: "strict",
    records: { "0#0": { h: "h", r: "a".repeat(70 * 1024) } },
    pending: [],
    session: "s",
    hold: "h",
    step: 1,
    iat: Date.now(),
  };
  const over = await mint(API_KEY, deflateRawSync(encoder.encode(JSON.stringify(state))));
  ok(over.length < 4 * 1024, "it compresses well: only the inflated size is over");
  const refused = await post(`${t.url}/execute-code-step`, stepBody(over, []));
  strictEqual(refused.status, 400);
  strictEqual((await refused.json()).code, "state_malformed");

  const long = await mint(API_KEY, crypto.getRandomValues(new Uint8Array(65_536)).fill(7, 0, 10));
  const tooLong = await post(
    `${t.url}/execute-code-step`,
    stepBody(`${long}${"A".repeat(30_000)}`),
  );
  strictEqual(tooLong.status, 413);
  strictEqual((await tooLong.json()).code, "state_too_large");
  await assertOnlyPoolHosts(t);
});

Deno.test("the server never issues a state it would refuse: near the limit it is accepted, over it the program ends with the error", async () => {
  await using t = await startServer({ maxStateBytes: 64 * 1024 });
  const code = `import { a } from "tools";
    console.log("start");
    for (let i = 0; i < 5; i++) console.log((await a(i)).length);`;
  const toolNames = ["a"];
  // Incompressible results of 16.7 KB: a state records three of them in 64 KiB, not four.
  const result = () => crypto.getRandomValues(new Uint8Array(12_500)).toBase64();
  let step = await t.client.executeCodeStep({ code, toolNames });
  const sizes: number[] = [];
  while (step.type === "tool_call") {
    sizes.push(step.state.length);
    step = await t.client.executeCodeStep({
      code,
      toolNames,
      state: step.state,
      toolResults: step.tool_calls.map(result),
    });
  }
  strictEqual(sizes.length, 4, "four states were issued, and each was accepted back");
  ok(sizes.every((size) => size < 64 * 1024 * 1.4), `${sizes}`);
  strictEqual(step.type, "runtime_error");
  deepStrictEqual(step.stdout, "start\n16668\n16668\n16668\n16668\n");
  ok(
    /the step state \(\d+ bytes\) would exceed the limit of 65536 bytes/.test(step.stderr),
    step.stderr,
  );
  await assertOnlyPoolHosts(t);
});

Deno.test("a minted token naming another session's paused execution replays instead of reaching it", async () => {
  await using t = await startServer();
  const code = CODE;
  const first = await t.client.executeCodeStep({ code, toolNames: ["a"] });
  strictEqual(first.type, "tool_call");
  if (first.type !== "tool_call") return;
  const victim = open(first.state);
  // The attacker runs the same program and knows the hold id, but not the session.
  const forged = await mint(
    API_KEY,
    deflateRawSync(encoder.encode(JSON.stringify({ ...victim, session: "f".repeat(32) }))),
  );
  const attacker = await post(`${t.url}/execute-code-step`, stepBody(forged, ["attacker"]));
  strictEqual(attacker.status, 200);
  deepStrictEqual(await attacker.json(), { type: "success", stdout: "got attacker\n", stderr: "" });
  ok(t.logs.some((line) => /#2 success \(replay/.test(line)), t.logs.join("\n"));
  // The owner's execution was still held for it, and resumes warm.
  const own = await t.client.executeCodeStep({
    code,
    toolNames: ["a"],
    state: first.state,
    toolResults: ["owner"],
  });
  deepStrictEqual(own, { type: "success", stdout: "got owner\n", stderr: "" });
  ok(t.logs.some((line) => /#2 success \(warm/.test(line)), t.logs.join("\n"));
  await assertOnlyPoolHosts(t);
});
