/**
 * A tool that needs a person's approval, inside a program, with the AI SDK's own approval flow:
 * the program runs on a progtc server up to its `send_email` call and pauses there; the AI SDK
 * answers with a `tool-approval-request`; the application asks the person and adds the standard
 * `tool-approval-response` to the conversation; on the next `generateText` an approved program
 * goes on from where it paused (`find_customer` does not run twice), and a denied one is reported
 * to the model as the AI SDK reports any denied tool (`execution-denied`, with the reason).
 * The model is scripted (the AI SDK's `MockLanguageModelV4`).
 *
 * ```sh
 * export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
 * deno run --allow-net --allow-env --allow-sys=hostname examples/ai_sdk_approval.ts approve   # or: deny
 * ```
 *
 * @module
 */
import { generateText, type ModelMessage, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { z } from "zod";
import { ProgtcClient } from "../client/mod.ts";
import { progtcTool } from "../client/ai.ts";

const client = new ProgtcClient({
  baseUrl: Deno.env.get("PROGTC_URL") ?? "http://127.0.0.1:8000",
  apiKey: Deno.env.get("PROGTC_API_KEY") ?? "your-secret-key",
});

/** What the tools did, in order. */
export const log: string[] = [];

const tools = {
  find_customer: tool({
    description: "A customer by name",
    inputSchema: z.object({ name: z.string() }),
    execute: ({ name }) => {
      log.push(`find_customer ${name}`);
      return { name: "Ada Lovelace", email: `${name}@example.com` };
    },
  }),
  send_email: tool({
    description: "Sends an email",
    inputSchema: z.object({ to: z.string(), subject: z.string() }),
    needsApproval: true,
    execute: ({ to, subject }) => {
      log.push(`send_email ${to}`);
      return `message to ${to} (${subject}) queued as #42`;
    },
  }),
};

const PROGRAM = `import { find_customer, send_email } from "tools";
const customer = await find_customer({ name: "ada" });
console.log(\`found \${customer.name}\`);
const receipt = await send_email({ to: customer.email, subject: "Your invoice is ready" });
export default receipt;`;

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 10, text: 10, reasoning: 0 },
};
const model = new MockLanguageModelV4({
  doGenerate: (options) => {
    const result = options.prompt.findLast((m) => m.role === "tool")?.content
      .find((p) => p.type === "tool-result");
    if (result?.type !== "tool-result") {
      return Promise.resolve({
        content: [{
          type: "tool-call",
          toolCallId: "call-1",
          toolName: "run_program",
          input: JSON.stringify({ code: PROGRAM }),
        }],
        finishReason: { unified: "tool-calls", raw: undefined },
        usage,
        warnings: [],
      });
    }
    const text = result.output.type === "json"
      ? `Done: ${(result.output.value as { value?: string }).value}`
      : result.output.type === "execution-denied"
      ? `Not sent: ${result.output.reason}`
      : `Unexpected: ${JSON.stringify(result.output)}`;
    return Promise.resolve({
      content: [{ type: "text", text }],
      finishReason: { unified: "stop", raw: undefined },
      usage,
      warnings: [],
    });
  },
});

const runProgram = progtcTool({ client, tools });

/**
 * Runs the agent; `decide` is the person, asked once per approval request. Returns the model's
 * last text and the requests it was asked.
 */
export async function main(
  decide: (request: { toolName: string; input: unknown }) => boolean,
): Promise<{ text: string; asked: { toolName: string; input: unknown }[] }> {
  const messages: ModelMessage[] = [{
    role: "user",
    content: "Email Ada that her invoice is ready",
  }];
  const asked: { toolName: string; input: unknown }[] = [];
  for (;;) {
    const result = await generateText({ model, tools: { run_program: runProgram }, messages });
    messages.push(...result.response.messages);
    const requests = result.content.filter((part) => part.type === "tool-approval-request");
    if (requests.length === 0) return { text: result.text, asked };
    const approvals = requests.map((request) => {
      // The person sees the program (the request is for the run_program call) and what it is
      // about to do.
      const pending = runProgram.pendingCalls(request.toolCall.toolCallId);
      asked.push(...pending);
      const approved = pending.every(decide);
      return {
        type: "tool-approval-response" as const,
        approvalId: request.approvalId,
        approved,
        ...(approved ? {} : { reason: "rejected by a human" }),
      };
    });
    messages.push({ role: "tool", content: approvals });
  }
}

if (import.meta.main) {
  const decision = Deno.args[0] ?? "approve";
  const { text, asked } = await main(() => decision === "approve");
  console.log(JSON.stringify({ text, asked, log }));
}
