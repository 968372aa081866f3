/**
 * Sessions on a real server, in both languages: what one program defines at its top level
 * (values, functions, classes, a helper that calls tools) is there in the next; names may be
 * defined again; the tools may change between programs; two sessions never see each other,
 * side by side on one host; and the reference Python client uses them through a header.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../client/mod.ts";
import { API_KEY, post, readFrames, sharedServerTests, startServer } from "./_helpers.ts";
import { runClient } from "./interop/_python.ts";
import { forEachVersion } from "./interop/_report.ts";
import { needsPython } from "./interop/venv.ts";

const shared = sharedServerTests("sessions on one server", { pythonPoolSize: 1 });

const ok200 = (result: ExecuteCodeResult, stdout: string) => {
  deepStrictEqual(
    { type: result.type, stdout: result.stdout, stderr: result.stderr },
    { type: "success", stdout, stderr: "" },
    JSON.stringify(result),
  );
};

const add = (a: number, b: number) => a + b;

shared(
  "TypeScript: values, functions, classes and a helper that calls tools carry to the next program",
  async (t) => {
    const session = t.client.session();
    ok200(
      await session.executeCode({
        code: `import { add } from "tools";
const rows: number[] = [await add(1, 1), await add(2, 2)];
let count = 0;
export const label = "rows";
function bump(): number { return ++count; }
class Box { constructor(readonly value: number) {} twice() { return this.value * 2; } }
async function total() { return rows.reduce((a, b) => a + b) + (await add(0, 100)); }
const { first, ...rest } = { first: rows[0], second: rows[1] }, [, second] = rows;
console.log(bump());`,
        tools: { add },
      }),
      "1\n",
    );
    ok(session.id && /^[0-9a-f]{32}$/.test(session.id), session.id);
    ok200(
      await session.executeCode({
        code: `import { add } from "tools";
console.log(rows, bump(), count, label, new Box(21).twice(), await total(), first, rest, second);`,
        tools: { add },
      }),
      "[ 2, 4 ] 2 2 rows 42 106 2 { second: 4 } 4\n",
    );
    // Defined again, as in a notebook: the functions see what the names hold now.
    ok200(
      await session.executeCode({
        code: `const rows = [10]; let count = 100; console.log(bump(), await total());`,
        tools: { add },
      }),
      "101 110\n",
    );
  },
);

shared(
  "TypeScript: a tool the program was not given fails where an earlier program's function calls it, and the session goes on",
  async (t) => {
    const session = t.client.session({ language: "typescript" });
    ok200(
      await session.executeCode({
        code: `import { lookup } from "tools";
async function find(key: string) { return await lookup(key); }
console.log(await find("a"));`,
        tools: { lookup: (key: string) => `value of ${key}` },
      }),
      "value of a\n",
    );
    // The next program has other tools: the old helper's call is refused, not a violation.
    const refused = await session.executeCode({
      code: `import { other } from "tools";
try { await find("b"); } catch (error) { console.log(String(error)); }
console.log(await other());`,
      tools: { other: () => "other" },
    });
    ok200(refused, "ToolError: lookup() is not one of this program's tools\nother\n");
    ok200(
      await session.executeCode({
        code: `console.log(await find("c"));`,
        tools: { lookup: (key: string) => `again ${key}` },
      }),
      "again c\n",
    );
  },
);

shared(
  "Python: values, functions, classes and a helper that calls tools carry to the next program",
  async (t) => {
    const session = t.client.session({ language: "python" });
    ok200(
      await session.executeCode({
        code: `from tools import add
rows = [await add(i, 1) for i in range(3)]
count = 0
def bump():
    global count
    count += 1
    return count
class Box:
    def __init__(self, value):
        self.value = value
    def twice(self):
        return self.value * 2
async def total():
    return sum(rows) + await add(0, 100)
print(bump())`,
        tools: { add },
      }),
      "1\n",
    );
    ok200(
      await session.executeCode({
        code: `print(rows, bump(), count, Box(21).twice(), await total())`,
        tools: { add },
      }),
      "[1, 2, 3] 2 2 42 106\n",
    );
    ok200(
      await session.executeCode({ code: `rows = [10]\nprint(await total())`, tools: { add } }),
      "110\n",
    );
    // The tools change: the old helper's call fails as a ToolError; the session goes on.
    ok200(
      await session.executeCode({
        code:
          `from tools import ToolError\ntry:\n    await total()\nexcept ToolError as e:\n    print(e)\nprint(count)`,
        tools: {},
      }),
      "add() is not one of this program's tools\n2\n",
    );
  },
);

shared("an error in a program keeps the session; its return value comes back", async (t) => {
  const session = t.client.session();
  const failed = await session.executeCode({
    code: `const kept = 1;\nthrow new Error("boom");`,
    tools: {},
  });
  strictEqual(failed.type, "runtime_error");
  match(failed.stderr, /Error: boom/);
  strictEqual(failed.session_ended, undefined);
  const after = await session.executeCode({
    code: `export default kept + 1;`,
    tools: {},
    returnValue: true,
  });
  deepStrictEqual(
    { type: after.type, value: after.value, session_id: after.session_id },
    { type: "success", value: 2, session_id: session.id },
  );
});

Deno.test("two sessions side by side on one host never see each other's definitions", async () => {
  // One host per language: whatever the pool does, the sessions share it.
  await using t = await startServer({ pythonPoolSize: 1, maxHosts: 1 });
  for (const language of ["typescript", "python"] as const) {
    const [a, b] = [t.client.session({ language }), t.client.session({ language })];
    const define = language === "python" ? `secret = "{S}"` : `const secret = "{S}";`;
    const read = language === "python"
      ? `print(globals().get("secret", "none"))`
      : `console.log(typeof secret === "undefined" ? "none" : secret);`;
    const gates = [Promise.withResolvers<string>(), Promise.withResolvers<string>()];
    const hold = language === "python"
      ? `from tools import wait\nawait wait()\n${read}`
      : `import { wait } from "tools";\nawait wait();\n${read}`;
    // Both programs wait at once: they are co-resident.
    await Promise.all([
      a.executeCode({ code: define.replace("{S}", "A-secret"), tools: {} }),
      b.executeCode({ code: define.replace("{S}", "B-secret"), tools: {} }),
    ]);
    const both = [a, b].map((session, i) =>
      session.executeCode({ code: hold, tools: { wait: () => gates[i]!.promise } })
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    gates.forEach((gate) => gate.resolve("go"));
    const [ra, rb] = await Promise.all(both);
    ok200(ra!, "A-secret\n");
    ok200(rb!, "B-secret\n");
    // A fresh execution on the same host sees neither.
    const fresh = await t.client.executeCode({ code: read, tools: {}, language });
    ok200(fresh, "none\n");
    // Co-resident: the same host process ran both sessions.
    const pidOf = (id: string) => {
      const line = t.logs.findLast((l) =>
        l.startsWith("execution ") && l.endsWith(`session ${id}`)
      );
      return line?.match(/sandbox (\d+) run/)?.[1];
    };
    ok(pidOf(a.id!) !== undefined, t.logs.join("\n"));
    strictEqual(pidOf(a.id!), pidOf(b.id!));
  }
});

shared("requests that name no open session are refused with a code that says why", async (t) => {
  const headers = (session: string) => ({
    "x-progtc-api-key": API_KEY,
    "x-progtc-session": session,
  });
  const body = { code: "console.log(1)", tool_names: [] };
  for (
    const [session, status, code] of [
      ["0123456789abcdef0123", 404, "unknown_session"],
      ["short", 400, "invalid_session"],
      ["new:has space in it!", 400, "invalid_session"],
    ] as const
  ) {
    const response = await post(`${t.url}/execute-code`, body, headers(session));
    strictEqual(response.status, status, session);
    strictEqual((await response.json()).code, code, session);
  }
  // A Python session takes no TypeScript program.
  const python = t.client.session({ language: "python" });
  ok200(await python.executeCode({ code: "x = 1", tools: {} }), "");
  const wrong = await post(
    `${t.url}/execute-code`,
    { ...body, language: "typescript" },
    headers(python.id!),
  );
  strictEqual(wrong.status, 400);
  strictEqual((await wrong.json()).code, "session_language");
  // One program at a time.
  const gate = Promise.withResolvers<string>();
  const called = Promise.withResolvers<void>();
  const session = t.client.session({ id: "busy-session-000001" });
  const running = session.executeCode({
    code: `import { wait } from "tools"; console.log(await wait());`,
    tools: {
      wait: () => {
        called.resolve();
        return gate.promise;
      },
    },
  });
  await called.promise;
  const busy = await post(`${t.url}/execute-code`, body, headers("busy-session-000001"));
  strictEqual(busy.status, 409);
  strictEqual((await busy.json()).code, "session_busy");
  gate.resolve("done");
  ok200(await running, "done\n");
  // The header's id, and the body's (which wins).
  const opened = await post(`${t.url}/execute-code`, {
    ...body,
    session: "new:client-chosen-id-0001",
  }, headers("new"));
  deepStrictEqual(await readFrames(opened), [
    { type: "success", stdout: "1\n", stderr: "", session_id: "client-chosen-id-0001" },
  ]);
  strictEqual(opened.headers.get("x-progtc-session"), "client-chosen-id-0001");
  const again = await post(`${t.url}/execute-code`, body, headers("new:client-chosen-id-0001"));
  strictEqual(again.status, 409);
  strictEqual((await again.json()).code, "session_exists");
});

shared("the reference Python client runs a session through X-Progtc-Session", async (t) => {
  if (needsPython.ignore) return;
  await forEachVersion(async (version) => {
    for (const language of ["python", "typescript"]) {
      const id = `reference-${version.replaceAll(".", "-")}-${language}`;
      const report = await runClient(version, "session_client.py", language, {
        baseUrl: t.url,
        apiKey: API_KEY,
      }, { args: [id] });
      const outputs = (report.results ?? []).map((r) => r.result?.stdout ?? r.error);
      deepStrictEqual(
        outputs,
        language === "python" ? ["", "[1, 2, 3] 106\n", "100\n"] : ["", "[ 1, 2 ] 103\n", "100\n"],
        JSON.stringify(report),
      );
    }
  });
});
