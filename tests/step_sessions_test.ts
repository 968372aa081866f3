/**
 * Sessions on the step API, on real servers, in both languages: what one program defines (a
 * value from a tool, a function, a class) the next uses; the session continues from its signed
 * state on a second server with the same secret, and on the first after a restart, with the same
 * output; a program paused mid-batch on one server finishes on another; a forked state gives
 * each branch its own continuation; a state whose programs no longer replay as recorded is
 * refused with `session_rebuild_failed`; a program past a limit (its timeout,
 * `--max-session-programs`) ends the session.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  type ExecuteCodeResult,
  type Language,
  ProgtcClient,
  ProgtcHttpError,
  runStepToolCalls,
  type StepSessionResult,
} from "../client/mod.ts";
import { API_KEY, startServer, type TestServer } from "./_helpers.ts";

const SECRET = "step-sessions-shared-secret";
const add = (a: number, b: number) => a + b;
const tools = { add };

const PROGRAMS: Record<"typescript" | "python", [string, string]> = {
  typescript: [
    `import { add } from "tools";
const base = await add(40, 2);
function greet(name: string) { return \`hello \${name} \${base}\`; }
class Counter { n = 0; bump() { return ++this.n + base; } }
let hits = 0;
console.log("defined", base);`,
    `import { add } from "tools";
const c = new Counter();
hits += 1;
console.log(greet("ada"), c.bump(), await add(base, 1), hits);`,
  ],
  python: [
    `from tools import add
base = await add(40, 2)
def greet(name):
    return f"hello {name} {base}"
class Counter:
    def __init__(self):
        self.n = 0
    def bump(self):
        self.n += 1
        return self.n + base
hits = 0
print("defined", base)`,
    `from tools import add
c = Counter()
hits += 1
print(greet("ada"), c.bump(), await add(base, 1), hits)`,
  ],
};
const SECOND_STDOUT = "hello ada 42 43 43 1\n";

function server(language: Language): Promise<TestServer> {
  return startServer({
    stateSecret: SECRET,
    ...(language === "python" ? { pythonPoolSize: 1, poolSize: 0 } : {}),
  });
}

function succeeded(result: StepSessionResult, stdout: string): void {
  deepStrictEqual(
    { type: result.type, stdout: result.stdout, stderr: result.stderr },
    { type: "success", stdout, stderr: "" },
    JSON.stringify(result),
  );
}

const rebuilt = (t: TestServer) => t.logs.filter((l) => /session \w+ rebuilt: /.test(l)).length;

for (const language of ["typescript", "python"] as const) {
  Deno.test(`${language}: a step session continues with the same output on its server, on a second one, and after a restart`, async () => {
    const [first, second] = PROGRAMS[language];
    const a = await server(language);
    await using b = await server(language);
    const session = a.client.session({ api: "step", language });
    succeeded(await session.executeCode({ code: first, tools }), "defined 42\n");
    ok(session.id && /^[0-9a-f]{32}$/.test(session.id), session.id);
    const state = session.state!;
    ok(state.startsWith("s1."), state.slice(0, 8));

    // On the first server, which holds the realm: no rebuild.
    const onA = await session.executeCode({ code: second, tools });
    succeeded(onA, SECOND_STDOUT);
    strictEqual(onA.session_id, session.id);
    strictEqual(rebuilt(a), 0, a.logs.join("\n"));

    // On a second server from the state after the first program: rebuilt, the same output.
    const onB = b.client.session({ api: "step", state });
    succeeded(await onB.executeCode({ code: second, tools }), SECOND_STDOUT);
    strictEqual(onB.id, session.id);
    strictEqual(rebuilt(b), 1, b.logs.join("\n"));
    // And on after that, from its own state, in the realm b keeps.
    succeeded(
      await onB.executeCode({
        code: language === "python" ? "print(hits)" : "console.log(hits);",
        tools: {},
      }),
      "1\n",
    );
    strictEqual(rebuilt(b), 1);

    // The first server restarted (a new process would be the same: nothing is kept).
    await a.server.shutdown();
    await using restarted = await server(language);
    const after = restarted.client.session({ api: "step", state });
    succeeded(await after.executeCode({ code: second, tools }), SECOND_STDOUT);
    strictEqual(rebuilt(restarted), 1);
  });

  Deno.test(`${language}: a session program paused mid-batch on one server finishes on another`, async () => {
    const [first, second] = PROGRAMS[language];
    await using a = await server(language);
    await using b = await server(language);
    const session = a.client.session({ api: "step", language });
    succeeded(await session.executeCode({ code: first, tools }), "defined 42\n");
    const toolNames = ["add"];
    const paused = await a.client.executeCodeStep({
      code: second,
      toolNames,
      language,
      sessionState: session.state!,
    });
    strictEqual(paused.type, "tool_call");
    if (paused.type !== "tool_call") return;
    deepStrictEqual(paused.tool_calls.map((c) => c.args), [[42, 1]]);
    const answers = await runStepToolCalls(paused.tool_calls, tools);
    const done = await b.client.executeCodeStep({
      code: second,
      toolNames,
      language,
      state: paused.state,
      ...answers,
    });
    succeeded(done as StepSessionResult, SECOND_STDOUT);
    strictEqual((done as StepSessionResult).session_id, session.id);
    ok((done as ExecuteCodeResult).session_state?.startsWith("s1."));
    strictEqual(rebuilt(b), 1, b.logs.join("\n"));
  });
}

Deno.test("a forked session state gives each branch its own continuation", async () => {
  await using t = await startServer({ stateSecret: SECRET });
  const session = t.client.session({ api: "step" });
  succeeded(
    await session.executeCode({
      code: `import { add } from "tools";\nlet hits = await add(0, 1);`,
      tools,
    }),
    "",
  );
  const state = session.state!;
  const [a, b] = [0, 1].map(() => t.client.session({ api: "step", state }));
  succeeded(await a!.executeCode({ code: `hits += 10; console.log(hits);`, tools: {} }), "11\n");
  succeeded(await b!.executeCode({ code: `hits += 100; console.log(hits);`, tools: {} }), "101\n");
  // The first took the realm the server kept, the second rebuilt its own.
  strictEqual(rebuilt(t), 1, t.logs.join("\n"));
  succeeded(await a!.executeCode({ code: `console.log(hits);`, tools: {} }), "11\n");
  succeeded(await b!.executeCode({ code: `console.log(hits);`, tools: {} }), "101\n");
  // The state of the first program, a third time: rebuilt again, from the same start.
  const c = t.client.session({ api: "step", state });
  succeeded(await c.executeCode({ code: `console.log(hits);`, tools: {} }), "1\n");
  strictEqual(rebuilt(t), 2);
});

for (const language of ["typescript", "python"] as const) {
  Deno.test(`${language}: a session whose calls no longer replay as recorded is refused with session_rebuild_failed`, async () => {
    await using a = await server(language);
    await using b = await server(language);
    const session = a.client.session({ api: "step", language });
    // Its argument is random: replayed, the call differs from its record.
    const random = language === "python"
      ? `import random\nfrom tools import add\nx = await add(random.random(), 0)`
      : `import { add } from "tools";\nconst x = await add(Math.random(), 0);`;
    succeeded(await session.executeCode({ code: random, tools }), "");
    const show = language === "python" ? "print(type(x).__name__)" : "console.log(typeof x);";
    const elsewhere = b.client.session({ api: "step", state: session.state! });
    const error = await elsewhere.executeCode({ code: show, tools: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    ok(error instanceof ProgtcHttpError, String(error));
    strictEqual(error.status, 409);
    strictEqual(error.code, "session_rebuild_failed");
    match(error.message, /program 1 of 1 made another call than before: add\(\) at 0#0/);
    // The server that holds the realm goes on; the other still serves sessions.
    succeeded(
      await session.executeCode({ code: show, tools: {} }),
      language === "python" ? "float\n" : "number\n",
    );
    succeeded(
      await b.client.session({ api: "step", language }).executeCode({
        code: language === "python" ? "print(1)" : "console.log(1);",
        tools: {},
      }),
      "1\n",
    );
  });
}

Deno.test("a step session program past its timeout ends the session: no state, and the client says so", async () => {
  await using t = await startServer({ codeExecutionTimeoutMs: 1000 });
  const session = t.client.session({ api: "step" });
  succeeded(await session.executeCode({ code: "const kept = 1;", tools: {} }), "");
  const spun = await session.executeCode({ code: "for (;;) {}", tools: {} });
  strictEqual(spun.type, "timeout_error");
  strictEqual(spun.session_ended, true);
  strictEqual("session_state" in spun, false);
  match(spun.stderr, /\[progtc: session \w+ ended with this program \(timeout\)/);
  ok(session.ended);
  strictEqual(session.state, undefined);
});

Deno.test("--max-session-programs: the program past it ends the session; a longer state is not rebuilt", async () => {
  await using a = await startServer({ stateSecret: SECRET, maxSessionPrograms: 2 });
  await using b = await startServer({ stateSecret: SECRET, maxSessionPrograms: 1 });
  const session = a.client.session({ api: "step" });
  succeeded(await session.executeCode({ code: "let n = 1;", tools: {} }), "");
  succeeded(await session.executeCode({ code: "n += 1;", tools: {} }), "");
  const two = session.state!;
  const third = await session.executeCode({ code: "console.log(n);", tools: {} });
  succeeded({ ...third, stderr: "" }, "2\n");
  strictEqual(third.session_ended, true);
  match(third.stderr, /more than --max-session-programs 2/);
  const error = await b.client.session({ api: "step", state: two })
    .executeCode({ code: "console.log(n);", tools: {} })
    .then(() => undefined, (e: unknown) => e);
  ok(error instanceof ProgtcHttpError, String(error));
  deepStrictEqual([error.status, error.code], [409, "session_rebuild_failed"]);
  match(error.message, /its 2 programs are more than this server replays/);
});

Deno.test("a session program that ends in determinism_error ends its session", async () => {
  await using t = await startServer();
  const session = t.client.session({ api: "step" });
  succeeded(await session.executeCode({ code: "const kept = 1;", tools: {} }), "");
  const toolNames = ["add"];
  const code = `import { add } from "tools"; console.log(await add(1, 1));`;
  const paused = await t.client.executeCodeStep({ code, toolNames, sessionState: session.state! });
  strictEqual(paused.type, "tool_call");
  if (paused.type !== "tool_call") return;
  // The next step sends an edited program whose call differs from the record: it replays.
  const edited = await t.client.executeCodeStep({
    code: code.replace("add(1, 1)", "add(2, 2)"),
    toolNames,
    state: paused.state,
    toolResults: [2],
  });
  strictEqual(edited.type, "determinism_error");
  if (edited.type !== "determinism_error") return;
  strictEqual(edited.session_ended, true);
  strictEqual("session_state" in edited, false);
  match(edited.stderr, /ended with this program \(it broke the determinism rule\)/);
});

Deno.test("a step session behind a round-robin balancer (each request to the other server) gives the same outputs", async () => {
  await using a = await server("typescript");
  await using b = await server("typescript");
  const urls = [a.url, b.url];
  let next = 0;
  const client = new ProgtcClient({
    baseUrl: "http://balancer",
    apiKey: API_KEY,
    fetch: (input, init) =>
      fetch(String(input).replace("http://balancer", urls[next++ % urls.length]!), init),
  });
  const session = client.session({ api: "step" });
  const [first, second] = PROGRAMS.typescript;
  succeeded(await session.executeCode({ code: first, tools }), "defined 42\n");
  succeeded(await session.executeCode({ code: second, tools }), SECOND_STDOUT);
  succeeded(
    await session.executeCode({ code: `console.log(hits, greet("bo"));`, tools: {} }),
    "1 hello bo 42\n",
  );
  ok(rebuilt(a) + rebuilt(b) >= 2, [...a.logs, ...b.logs].join("\n"));
});
