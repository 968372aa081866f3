import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import {
  type ExecuteCodeStepResult,
  ProgtcClient,
  ProgtcHttpError,
  runStepToolCalls,
  type ToolHandler,
} from "../client/mod.ts";
import { API_KEY, delay, post, startServer } from "./_helpers.ts";

const PROGRAM = `
import { get_weather, search } from "tools";
console.log("start");
const london = await get_weather("London");
console.log("a", london);
const paris = await get_weather("Paris");
console.log("b", paris);
const [x, y] = await Promise.all([search("hotels"), search("trains")]);
console.log("c", x, y);
`;

const TOOLS: Record<string, ToolHandler> = {
  get_weather: (city: string) => `sunny in ${city}`,
  search: (query: string) => [query.toUpperCase()],
};

const EXPECTED_STDOUT = 'start\na sunny in London\nb sunny in Paris\nc [ "HOTELS" ] [ "TRAINS" ]\n';

/** Runs the step loop; returns the final result and the batches seen. */
async function stepLoop(
  client: ProgtcClient | ((step: number) => ProgtcClient),
  code: string,
  tools: Record<string, ToolHandler>,
  extra: { determinism?: "strict" | "order_only" } = {},
) {
  const toolNames = Object.keys(tools);
  const batches: string[][] = [];
  const pick = typeof client === "function" ? client : () => client;
  let result: ExecuteCodeStepResult = await pick(0).executeCodeStep({ code, toolNames, ...extra });
  while (result.type === "tool_call") {
    batches.push(result.tool_calls.map((c) => `${c.tool_name}(${c.args.join(",")})`));
    const { toolResults, toolErrors } = await runStepToolCalls(result.tool_calls, tools);
    result = await pick(batches.length).executeCodeStep({
      code,
      toolNames,
      state: result.state,
      toolResults,
      toolErrors,
    });
  }
  return { result, batches };
}

Deno.test("executeCodeStep() finishes two calls and a Promise.all of two in three steps, printing once", async () => {
  await using t = await startServer();
  const { result, batches } = await stepLoop(t.client, PROGRAM, TOOLS);
  deepStrictEqual(batches, [
    ["get_weather(London)"],
    ["get_weather(Paris)"],
    ["search(hotels)", "search(trains)"],
  ]);
  deepStrictEqual(result, { type: "success", stdout: EXPECTED_STDOUT, stderr: "" });
});

Deno.test("executeCodeStep() gives the same output with warm resume and with forced replay", async () => {
  await using warm = await startServer();
  await using cold = await startServer({ warmResumeTtlMs: 0 });
  const a = await stepLoop(warm.client, PROGRAM, TOOLS);
  const b = await stepLoop(cold.client, PROGRAM, TOOLS);
  deepStrictEqual(a, b);
  deepStrictEqual(a.result, { type: "success", stdout: EXPECTED_STDOUT, stderr: "" });
  strictEqual(warm.logs.filter((l) => /\((warm)[,)]/.test(l)).length, 3, warm.logs.join("\n"));
  strictEqual(cold.logs.filter((l) => /\((replay)[,)]/.test(l)).length, 3, cold.logs.join("\n"));
});

Deno.test("executeCodeStep() continues on a second server that shares the key", async () => {
  await using first = await startServer();
  await using second = await startServer();
  const { result, batches } = await stepLoop(
    (step) => (step % 2 === 0 ? first.client : second.client),
    PROGRAM,
    TOOLS,
  );
  strictEqual(batches.length, 3);
  deepStrictEqual(result, { type: "success", stdout: EXPECTED_STDOUT, stderr: "" });
  ok(second.logs.some((l) => l.includes("(replay")));
});

async function firstStep(client: ProgtcClient) {
  const step = await client.executeCodeStep({ code: PROGRAM, toolNames: Object.keys(TOOLS) });
  if (step.type !== "tool_call") throw new Error(`expected tool calls, got ${step.type}`);
  return step;
}

async function refused(promise: Promise<unknown>, status: number, code: string) {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof ProgtcHttpError, String(error));
    strictEqual(error.status, status);
    strictEqual(error.code, code);
    return true;
  });
}

Deno.test("executeCodeStep() refuses tampered, truncated, foreign and oversized state tokens", async () => {
  await using t = await startServer();
  await using other = await startServer({ apiKey: "another-key" });
  await using small = await startServer({ maxStateBytes: 100 });
  const step = await firstStep(t.client);
  const next = (state: string, client = t.client) =>
    client.executeCodeStep({
      code: PROGRAM,
      toolNames: Object.keys(TOOLS),
      state,
      toolResults: ["x"],
    });
  const [version, payload, mac] = step.state.split(".");
  const flipped = payload!.slice(0, 10) + (payload![10] === "A" ? "B" : "A") + payload!.slice(11);
  await refused(next(`${version}.${flipped}.${mac}`), 400, "state_signature");
  await refused(next(step.state.slice(0, step.state.length - 5)), 400, "state_signature");
  await refused(next(step.state.slice(0, 20)), 400, "state_malformed");
  await refused(next("not a token"), 400, "state_malformed");
  await refused(next(`p1.${payload}.${mac}`), 400, "state_malformed");
  await refused(next(`p3.${payload}.${mac}`), 400, "state_malformed");
  const foreign = await firstStep(new ProgtcClient({ baseUrl: other.url, apiKey: "another-key" }));
  await refused(next(foreign.state), 400, "state_signature");
  await refused(next(step.state, small.client), 413, "state_too_large");
  // The genuine token still works after all that.
  const resumed = await next(step.state);
  strictEqual(resumed.type, "tool_call");
});

Deno.test("executeCodeStep() refuses an expired token and a wrong result count", async () => {
  await using t = await startServer({ stateMaxAgeMs: 200 });
  const step = await firstStep(t.client);
  await refused(
    t.client.executeCodeStep({
      code: PROGRAM,
      toolNames: Object.keys(TOOLS),
      state: step.state,
      toolResults: ["x", "y"],
    }),
    400,
    "invalid_body",
  );
  await refused(
    t.client.executeCodeStep({ code: PROGRAM, toolNames: Object.keys(TOOLS), toolResults: ["x"] }),
    400,
    "invalid_body",
  );
  await delay(300);
  await refused(
    t.client.executeCodeStep({
      code: PROGRAM,
      toolNames: Object.keys(TOOLS),
      state: step.state,
      toolResults: ["x"],
    }),
    400,
    "state_expired",
  );
});

const RANDOM = `
import { fetch_page } from "tools";
const first = await fetch_page(1);
const page = await fetch_page(Math.floor(Math.random() * 1e9));
console.log(first, page);
`;

Deno.test("executeCodeStep() answers determinism_error when a replayed call's arguments change", async () => {
  await using t = await startServer({ warmResumeTtlMs: 0 });
  const { result } = await stepLoop(t.client, RANDOM, { fetch_page: (n: number) => `page ${n}` });
  strictEqual(result.type, "determinism_error");
  // Raised at the call, in the program, with the reference's message.
  match(
    result.stderr,
    /^DeterminismError: This code execution framework only works when the code calls tools in a deterministic order, with deterministic arguments\. The call to `fetch_page` violated this rule\.\n {4}at code\.ts:4:/,
  );
});

Deno.test("a determinism mismatch reached through export default ends as determinism_error", async () => {
  await using t = await startServer({ warmResumeTtlMs: 0 });
  const code = `
import { fetch_page } from "tools";
const first = await fetch_page(1);
export default fetch_page(Math.floor(Math.random() * 1e9)).then((page) => [first, page]);
`;
  const tools = { fetch_page: (n: number) => `page ${n}` };
  const toolNames = Object.keys(tools);
  let result = await t.client.executeCodeStep({ code, toolNames, returnValue: true });
  while (result.type === "tool_call") {
    const { toolResults } = await runStepToolCalls(result.tool_calls, tools);
    result = await t.client.executeCodeStep({
      code,
      toolNames,
      returnValue: true,
      state: result.state,
      toolResults,
    });
  }
  strictEqual(result.type, "determinism_error");
  match(result.stderr, /^DeterminismError: This code execution framework only works/);
});

Deno.test("executeCodeStep() accepts changing arguments in order_only mode", async () => {
  await using t = await startServer({ warmResumeTtlMs: 0 });
  const { result } = await stepLoop(t.client, RANDOM, { fetch_page: () => "ok" }, {
    determinism: "order_only",
  });
  deepStrictEqual(result, { type: "success", stdout: "ok ok\n", stderr: "" });
});

for (const warmResumeTtlMs of [60_000, 0]) {
  Deno.test(`executeCodeStep() raises a failed tool in the program (warm resume ttl ${warmResumeTtlMs} ms)`, async () => {
    await using t = await startServer({ warmResumeTtlMs });
    const { result } = await stepLoop(
      t.client,
      `
import { a, b } from "tools";
const [x, y] = await Promise.allSettled([a(), b()]);
console.log(x.status, x.status === "fulfilled" && x.value, y.status, y.status === "rejected" && y.reason.name, y.reason?.message);
const z = await a();
console.log(z);
`,
      {
        a: () => null,
        b: () => {
          throw new Error("b is broken");
        },
      },
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: "fulfilled null rejected ToolError b is broken\nnull\n",
      stderr: "",
    });
  });
}

Deno.test("/execute-code-step answers the reference's shapes to a raw request", async () => {
  await using t = await startServer();
  const first = await post(`${t.url}/execute-code-step`, {
    code: `import { add } from "tools"; console.log(await add(2, 3));`,
    tool_names: ["add"],
    state: null,
    tool_results: null,
  });
  strictEqual(first.status, 200);
  const body = await first.json();
  strictEqual(body.type, "tool_call");
  strictEqual(typeof body.state, "string");
  strictEqual(body.tool_calls.length, 1);
  const [call] = body.tool_calls;
  match(call.id, /^[0-9a-f]{32}$/);
  deepStrictEqual(
    [call.type, call.tool_name, call.args, call.kwargs, call.frame_id, call.call_index],
    ["tool_call", "add", [2, 3], {}, [0], 0],
  );
  const last = await post(`${t.url}/execute-code-step`, {
    code: `import { add } from "tools"; console.log(await add(2, 3));`,
    tool_names: ["add"],
    state: body.state,
    tool_results: [5],
  }, { authorization: `Bearer ${API_KEY}` });
  deepStrictEqual(await last.json(), { type: "success", stdout: "5\n", stderr: "" });
});

Deno.test("executeCodeStep() stops the program when the client aborts the request", async () => {
  await using t = await startServer();
  const controller = new AbortController();
  const pending = t.client.executeCodeStep({
    code: `console.log("spinning"); while (true) {}`,
    toolNames: [],
    signal: controller.signal,
  });
  await delay(300);
  controller.abort();
  await rejects(pending, { name: "AbortError" });
  for (let i = 0; i < 100 && !t.logs.some((l) => l.includes("client disconnected")); i++) {
    await delay(20);
  }
  ok(
    t.logs.some((l) => /runtime_error \(start, the client disconnected\)/.test(l)),
    t.logs.join("\n"),
  );
  const after = await t.client.executeCodeStep({ code: `console.log("next")`, toolNames: [] });
  deepStrictEqual(after, { type: "success", stdout: "next\n", stderr: "" });
});

Deno.test("executeCodeStep() ends the program, keeping its output, when its state would exceed the limit", async () => {
  await using t = await startServer({ maxStateBytes: 2000 });
  // Random hex does not compress: the second step's state holds 8 KB of it.
  const big = Array.from(crypto.getRandomValues(new Uint8Array(4096)), (b) => b.toString(16))
    .join("");
  const { result, batches } = await stepLoop(
    t.client,
    `
import { fetch_blob, next } from "tools";
console.log("started");
const blob = await fetch_blob();
console.log("got", blob.length);
await next();
`,
    { fetch_blob: () => big, next: () => null },
  );
  strictEqual(batches.length, 1);
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, `started\ngot ${big.length}\n`);
  match(
    result.stderr,
    /^Error: the step state \(\d{4,} bytes\) would exceed the limit of 2000 bytes\n$/,
  );
});
