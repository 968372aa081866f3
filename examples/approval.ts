/**
 * Human-in-the-loop approval with the step API: run an agent's program until it wants to send
 * an email, save everything needed to resume to a file, and exit. Later (another process, maybe
 * hours later, maybe another server sharing the key), a human approves or rejects, and the
 * program resumes where it stopped.
 *
 * ```sh
 * export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
 * deno run --allow-net --allow-env --allow-read --allow-write examples/approval.ts start pending.json
 * deno run --allow-net --allow-env --allow-read --allow-write examples/approval.ts approve pending.json
 * # or: ... examples/approval.ts reject pending.json
 * ```
 *
 * @module
 */
import {
  type ExecuteCodeStepResult,
  ProgtcClient,
  runStepToolCalls,
  type StepToolCall,
  type ToolHandler,
} from "../client/mod.ts";

/** The program an agent wrote. */
const CODE = `
import { find_customer, send_email } from "tools";
const customer = await find_customer("ada");
console.log(\`found \${customer.name}\`);
try {
  const receipt = await send_email(customer.email, "Your invoice is ready");
  console.log(\`sent: \${receipt}\`);
} catch (error) {
  console.log(\`not sent: \${error.message}\`);
}
`;

const TOOLS: Record<string, ToolHandler> = {
  find_customer: (name: string) => ({ name: "Ada Lovelace", email: `${name}@example.com` }),
  send_email: (to: string, subject: string) => `message to ${to} (${subject}) queued as #42`,
};

/** Tools a human must approve before they run. */
const NEEDS_APPROVAL = new Set(["send_email"]);

/** What the first process saves for the second. */
interface Pending {
  code: string;
  toolNames: string[];
  toolCalls: StepToolCall[];
  state: string;
}

/** Steps until the program ends or asks for a tool that needs approval. */
async function run(
  client: ProgtcClient,
  file: string,
  first: ExecuteCodeStepResult,
): Promise<ExecuteCodeStepResult> {
  let step = first;
  while (step.type === "tool_call") {
    if (step.tool_calls.some((call) => NEEDS_APPROVAL.has(call.tool_name))) {
      const pending: Pending = {
        code: CODE,
        toolNames: Object.keys(TOOLS),
        toolCalls: step.tool_calls,
        state: step.state,
      };
      await Deno.writeTextFile(file, JSON.stringify(pending, null, 2));
      return step;
    }
    const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, TOOLS);
    step = await client.executeCodeStep({
      code: CODE,
      toolNames: Object.keys(TOOLS),
      state: step.state,
      toolResults,
      toolErrors,
    });
  }
  return step;
}

async function main([command, file]: string[]): Promise<number> {
  const baseUrl = Deno.env.get("PROGTC_URL") ?? "http://127.0.0.1:8000";
  const apiKey = Deno.env.get("PROGTC_API_KEY") ?? "";
  const client = new ProgtcClient({ baseUrl, apiKey });
  if (!file || !["start", "approve", "reject"].includes(command ?? "")) {
    console.error("Usage: approval.ts start|approve|reject <file>");
    return 2;
  }
  let result: ExecuteCodeStepResult;
  if (command === "start") {
    result = await run(
      client,
      file,
      await client.executeCodeStep({ code: CODE, toolNames: Object.keys(TOOLS) }),
    );
  } else {
    const pending: Pending = JSON.parse(await Deno.readTextFile(file));
    const answered = command === "approve" ? await runStepToolCalls(pending.toolCalls, TOOLS) : {
      toolResults: pending.toolCalls.map(() => null),
      toolErrors: pending.toolCalls.map((_, index) => ({ index, message: "rejected by a human" })),
    };
    await Deno.remove(file);
    result = await run(
      client,
      file,
      await client.executeCodeStep({
        code: pending.code,
        toolNames: pending.toolNames,
        state: pending.state,
        ...answered,
      }),
    );
  }
  if (result.type === "tool_call") {
    const calls = result.tool_calls.map((c) => `${c.tool_name}(${JSON.stringify(c.args)})`);
    console.log(`waiting for approval: ${calls.join(", ")}; saved to ${file}`);
    return 0;
  }
  console.log(`${result.type}\n${result.stdout}${result.stderr}`.trimEnd());
  return result.type === "success" ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
