/**
 * progtc as Cloudflare codemode's `Executor`: codemode's browser-safe entry
 * (`createBrowserCodeTool`) makes the tool and normalises the model's code; progtc runs it on a
 * real server, its `codemode.*` calls answered by the functions here.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { createBrowserCodeTool } from "@cloudflare/codemode/browser";
import { progtcExecutor } from "../client/codemode.ts";
import { assertOnlyPoolHosts, startServer } from "./_helpers.ts";

const tools = {
  get_weather: {
    description: "Current temperature of a city",
    inputSchema: {
      type: "object" as const,
      properties: { city: { type: "string" as const } },
      required: ["city"],
    },
    execute: (args: Record<string, unknown>) =>
      Promise.resolve({ city: args.city, celsius: args.city === "Rome" ? 24 : 18 }),
  },
  fail: {
    description: "Always fails",
    inputSchema: { type: "object" as const, properties: {} },
    execute: () => Promise.reject(new Error("the service is down")),
  },
};

Deno.test("codemode's browser code tool runs its code on progtc: result, logs, tool errors", async () => {
  await using t = await startServer();
  const codeTool = createBrowserCodeTool({ tools, executor: progtcExecutor(t.client) });
  ok(codeTool.description.includes("get_weather"), codeTool.description);

  const output = await codeTool.execute({
    code: `async () => {
  const [paris, rome] = await Promise.all([
    codemode.get_weather({ city: "Paris" }),
    codemode.get_weather({ city: "Rome" }),
  ]);
  try { await codemode.fail({}); } catch (e) { console.log(e.name + ": " + e.message); }
  console.log("two cities");
  return rome.celsius > paris.celsius ? rome : paris;
}`,
  });
  deepStrictEqual(output, {
    result: { city: "Rome", celsius: 24 },
    logs: ["ToolError: the service is down", "two cities"],
  });

  // A bare expression, normalised by codemode into a function.
  const bare = await codeTool.execute({
    code: `(await codemode.get_weather({ city: "Oslo" })).celsius`,
  });
  strictEqual(bare.result, 18);

  // A failing program: codemode reports the executor's error.
  await rejects(
    codeTool.execute({ code: "async () => { throw new RangeError('too far'); }" }),
    (error: Error) => error.message.startsWith("Code execution failed: RangeError: too far"),
  );
  await assertOnlyPoolHosts(t);
});

Deno.test("progtcExecutor with named providers, and without a server: an error, never a throw", async () => {
  await using t = await startServer();
  const executor = progtcExecutor(t.client);
  const result = await executor.execute(
    "async () => [await github.issues({ repo: 'a' }), await shell.run('ls')]",
    [
      {
        name: "github",
        fns: { issues: (args) => Promise.resolve([`issue of ${(args as { repo: string }).repo}`]) },
      },
      { name: "shell", fns: { run: (command) => Promise.resolve(`ran ${command}`) } },
    ],
  );
  deepStrictEqual(result, { result: [["issue of a"], "ran ls"] });

  const bad = await executor.execute("async () => 1", [{ name: "not a name", fns: {} }]);
  strictEqual(bad.error, "Not a namespace name: not a name");

  // No server there: the executor answers an error naming the URL.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const baseUrl = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const { ProgtcClient } = await import("../client/mod.ts");
  const nowhere = progtcExecutor(new ProgtcClient({ baseUrl, apiKey: "k" }));
  const unreachable = await nowhere.execute("async () => 1", {});
  ok(
    unreachable.error?.startsWith(`Cannot reach the progtc server at ${baseUrl}`),
    unreachable.error,
  );
});
