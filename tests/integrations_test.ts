/**
 * The integrations, run as users run them: the examples (AI SDK agent, AI SDK approval, MCP,
 * pydantic-ai) each in its own process against a real server with a scripted model, and the AI
 * SDK's tool-caller seam (`experimental_toolCallers`) with `progtcTool`.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { generateText, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { z } from "zod";
import { progtcTool } from "../client/ai.ts";
import { API_KEY, assertOnlyPoolHosts, startServer } from "./_helpers.ts";
import { ensurePydanticAiVenv, needsPython } from "./interop/venv.ts";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

async function runExample(command: string, args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(command, { args, env, cwd: ROOT }).output();
  const stderr = decoder.decode(output.stderr);
  strictEqual(output.code, 0, stderr);
  return decoder.decode(output.stdout).trim().split("\n").at(-1)!;
}

/** Runs a Deno example with the permissions its doc comment gives. */
const denoExample = (file: string, env: Record<string, string>, ...args: string[]) =>
  runExample(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    // The AI SDK reads the host name (for its telemetry ids).
    ...(file.includes("ai_sdk") ? ["--allow-sys=hostname"] : []),
    file,
    ...args,
  ], env);

Deno.test("examples/ai_sdk_agent.ts: the model's program calls two typed tools and returns a value", async () => {
  await using t = await startServer();
  const report = JSON.parse(
    await denoExample("examples/ai_sdk_agent.ts", { PROGTC_URL: t.url, PROGTC_API_KEY: API_KEY }),
  );
  strictEqual(report.text, "Go to Rome: Rome Hotel 1.");
  deepStrictEqual(report.result, {
    type: "success",
    stdout: "warmest: Rome\n",
    stderr: "",
    value: { city: "Rome", celsius: 24, hotel: "Rome Hotel 1" },
  });
  // The model was told the rules and both tools' declarations (the AI SDK tool's too).
  for (
    const line of [
      'declare module "tools" {',
      "export function get_weather(input: { city: string }): " +
      "Promise<{ city: string; celsius: number }>;",
      "/** Hotels of a city, best rated first */",
      "export function search_hotels(input: { city: string; limit?: number }): Promise<unknown>;",
    ]
  ) ok(report.description.includes(line), `${line} in ${report.description}`);
  await assertOnlyPoolHosts(t);
});

for (const decision of ["approve", "deny"] as const) {
  Deno.test(`examples/ai_sdk_approval.ts: a call that needs approval pauses the program (${decision})`, async () => {
    await using t = await startServer();
    const report = JSON.parse(
      await denoExample(
        "examples/ai_sdk_approval.ts",
        { PROGTC_URL: t.url, PROGTC_API_KEY: API_KEY },
        decision,
      ),
    );
    deepStrictEqual(report.asked, [{
      toolName: "send_email",
      input: { to: "ada@example.com", subject: "Your invoice is ready" },
    }]);
    if (decision === "approve") {
      strictEqual(
        report.text,
        "Done: message to ada@example.com (Your invoice is ready) queued as #42",
      );
      // The program went on from where it paused: find_customer ran once.
      deepStrictEqual(report.log, ["find_customer ada", "send_email ada@example.com"]);
    } else {
      strictEqual(report.text, "Not sent: rejected by a human");
      deepStrictEqual(report.log, ["find_customer ada"]);
    }
  });
}

Deno.test("examples/mcp.ts: an MCP server's tools called from one program", async () => {
  await using t = await startServer();
  const report = JSON.parse(
    await denoExample("examples/mcp.ts", { PROGTC_URL: t.url, PROGTC_API_KEY: API_KEY }),
  );
  deepStrictEqual(report, {
    type: "success",
    // isError became a ToolError the program caught.
    stdout: "ToolError: supplier of B-2 is closed today\n",
    stderr: "",
    // structuredContent (stock) and text (describe) came back as values.
    value: { inStock: "A-1: a very good widget", empty: ["B-2"] },
  });
  await assertOnlyPoolHosts(t);
});

Deno.test(
  "examples/pydantic_ai_agent.py: pydantic-ai with the reference Python client",
  needsPython,
  async () => {
    const python = await ensurePydanticAiVenv();
    await using t = await startServer({ language: "python", pythonPoolSize: 1 });
    const docs = await Deno.makeTempFile({ suffix: ".txt" });
    try {
      const printed = await denoExample("examples/python_tool_docs.ts", {});
      // The whole output, not only its last line.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "examples/python_tool_docs.ts"],
        cwd: ROOT,
      }).output();
      await Deno.writeFile(docs, out.stdout);
      ok(printed.includes("Hotels of a city"), printed);
      const report = JSON.parse(
        await runExample(python, ["examples/pydantic_ai_agent.py"], {
          PROGTC_URL: t.url,
          PROGTC_API_KEY: API_KEY,
          PROGTC_TOOL_DOCS: docs,
        }),
      );
      strictEqual(report.answer, "From the program: warmest: Rome (24 °C), stay at Rome Hotel 1");
      ok(report.instructions.includes("async def get_weather(*, city: str) -> GetWeatherResult:"));
      ok(report.instructions.includes("async def search_hotels(*, city: str, limit: int = 3)"));
    } finally {
      await Deno.remove(docs);
    }
  },
);

Deno.test("progtcTool in the AI SDK's tool-caller seam: bound tools are hidden from the model and called by the program", async () => {
  await using t = await startServer();
  const calls: string[] = [];
  const seenTools: string[][] = [];
  let description = "";
  const model = new MockLanguageModelV4({
    doGenerate: (options) => {
      seenTools.push((options.tools ?? []).map((t) => t.name));
      const first = options.tools?.[0];
      if (first?.type === "function") description = first.description ?? "";
      const done = options.prompt.some((m) => m.role === "tool");
      return Promise.resolve({
        content: done ? [{ type: "text", text: "done" }] : [{
          type: "tool-call",
          toolCallId: "c1",
          toolName: "code",
          input: JSON.stringify({
            code: 'import { lookup } from "tools";\nexport default await lookup({ key: "k" });',
          }),
        }],
        finishReason: { unified: done ? "stop" : "tool-calls", raw: undefined },
        usage: {
          inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 1, text: 1, reasoning: 0 },
        },
        warnings: [],
      });
    },
  });
  const result = await generateText({
    model,
    tools: {
      code: progtcTool({ client: t.client }),
      lookup: tool({
        description: "Looks a key up",
        inputSchema: z.object({ key: z.string() }),
        execute: ({ key }) => {
          calls.push(key);
          return `value of ${key}`;
        },
      }),
    },
    experimental_toolCallers: { lookup: ["code"] },
    stopWhen: ({ steps }) => steps.length >= 2,
    prompt: "look k up",
  });
  // The model saw only the caller, whose description declares the bound tool.
  deepStrictEqual(seenTools, [["code"], ["code"]]);
  ok(description.includes("export function lookup(input: { key: string }): Promise<unknown>;"));
  deepStrictEqual(calls, ["k"]);
  const toolResult = result.steps[0]!.toolResults[0];
  deepStrictEqual(toolResult?.output, {
    type: "success",
    stdout: "",
    stderr: "",
    value: "value of k",
  });
});

Deno.test("progtcTool approvals: a function decides per input; a second call needing approval after the approval is a ToolError", async () => {
  await using t = await startServer();
  const sent: string[] = [];
  const runProgram = progtcTool({
    client: t.client,
    tools: {
      send: tool({
        description: "Sends money",
        inputSchema: z.object({ to: z.string(), amount: z.number() }),
        needsApproval: ({ amount }) => amount > 100,
        execute: ({ to, amount }) => {
          sent.push(`${to}:${amount}`);
          return "ok";
        },
      }),
    },
  });
  const code = `import { send } from "tools";
await send({ to: "a", amount: 5 });
await send({ to: "b", amount: 500 });
try { await send({ to: "c", amount: 900 }); } catch (e) { console.log(e.name + ": " + e.message); }
export default "end";`;
  const options = { toolCallId: "call-9", messages: [] };
  // The small payment runs; the program pauses at the large one.
  strictEqual(await runProgram.needsApproval!({ code }, options), true);
  deepStrictEqual(sent, ["a:5"]);
  deepStrictEqual(runProgram.pendingCalls("call-9"), [
    { toolName: "send", input: { to: "b", amount: 500 } },
  ]);
  // Asked again (the AI SDK checks once more before it runs an approved call): still paused.
  strictEqual(await runProgram.needsApproval!({ code }, options), true);
  deepStrictEqual(await runProgram.execute({ code }, options), {
    type: "success",
    stdout: "ToolError: send() needs approval, and this program has had its one approval: " +
      "make the call in a new program, which asks again\n",
    stderr: "",
    value: "end",
  });
  deepStrictEqual(sent, ["a:5", "b:500"]);
  deepStrictEqual(runProgram.pendingCalls("call-9"), []);
  // A program with no call that needs approval is not asked about, and runs once.
  const small = 'import { send } from "tools"; export default await send({ to: "d", amount: 1 });';
  strictEqual(await runProgram.needsApproval!({ code: small }, { toolCallId: "call-10" }), false);
  deepStrictEqual(await runProgram.execute({ code: small }, { toolCallId: "call-10" }), {
    type: "success",
    stdout: "",
    stderr: "",
    value: "ok",
  });
  deepStrictEqual(sent, ["a:5", "b:500", "d:1"]);
});
