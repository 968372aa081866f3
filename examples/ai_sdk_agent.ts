/**
 * An AI SDK agent whose model writes one program instead of calling tools one by one: the
 * program calls two typed tools on a progtc server and returns a value. The model is scripted
 * (the AI SDK's `MockLanguageModelV4`), so this runs without an LLM; with a real one, replace
 * `model`.
 *
 * ```sh
 * export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
 * deno run --allow-net --allow-env --allow-sys=hostname examples/ai_sdk_agent.ts
 * ```
 *
 * @module
 */
import { generateText, isStepCount, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { z } from "zod";
import { defineTool, ProgtcClient } from "../client/mod.ts";
import { progtcTool } from "../client/ai.ts";

const client = new ProgtcClient({
  baseUrl: Deno.env.get("PROGTC_URL") ?? "http://127.0.0.1:8000",
  apiKey: Deno.env.get("PROGTC_API_KEY") ?? "your-secret-key",
});

// One progtc tool and one AI SDK tool, as they are.
const tools = {
  get_weather: defineTool({
    description: "Current temperature of a city, in °C",
    input: z.object({ city: z.string() }),
    output: z.object({ city: z.string(), celsius: z.number() }),
    execute: ({ city }) => ({ city, celsius: { Paris: 18, Rome: 24, Oslo: 9 }[city] ?? 15 }),
  }),
  search_hotels: tool({
    description: "Hotels of a city, best rated first",
    inputSchema: z.object({ city: z.string(), limit: z.number().int().default(3) }),
    execute: ({ city, limit }) => Array.from({ length: limit }, (_, i) => `${city} Hotel ${i + 1}`),
  }),
};

// What the scripted model writes, having read the tool's description.
const PROGRAM = `import { get_weather, search_hotels } from "tools";
const cities = ["Paris", "Rome", "Oslo"];
const weather = await Promise.all(cities.map((city) => get_weather({ city })));
const warmest = weather.reduce((a, b) => (b.celsius > a.celsius ? b : a));
const [hotel] = await search_hotels({ city: warmest.city, limit: 1 });
console.log(\`warmest: \${warmest.city}\`);
export default { city: warmest.city, celsius: warmest.celsius, hotel };`;

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 10, text: 10, reasoning: 0 },
};
/** What the model saw in each call: the tool's description, then the program's result. */
export const seen: { description?: string; result?: unknown }[] = [];
const model = new MockLanguageModelV4({
  doGenerate: (options) => {
    const toolMessage = options.prompt.findLast((m) => m.role === "tool");
    if (toolMessage === undefined) {
      const runProgram = options.tools?.find((t) => t.name === "run_program");
      seen.push({
        description: runProgram?.type === "function" ? runProgram.description ?? "" : "",
      });
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
    const part = toolMessage.content.find((p) => p.type === "tool-result");
    const result = part?.type === "tool-result" && part.output.type === "json"
      ? part.output.value
      : undefined;
    seen.push({ result });
    const value = (result as { value?: { city: string; hotel: string } } | undefined)?.value;
    return Promise.resolve({
      content: [{ type: "text", text: `Go to ${value?.city}: ${value?.hotel}.` }],
      finishReason: { unified: "stop", raw: undefined },
      usage,
      warnings: [],
    });
  },
});

/** Runs the agent; returns its answer. */
export async function main(): Promise<string> {
  const { text } = await generateText({
    model,
    tools: { run_program: progtcTool({ client, tools }) },
    stopWhen: isStepCount(3),
    prompt: "Which of Paris, Rome and Oslo is warmest today, and where should I stay there?",
  });
  return text;
}

if (import.meta.main) {
  const text = await main();
  console.log(JSON.stringify({ text, description: seen[0]?.description, result: seen[1]?.result }));
}
