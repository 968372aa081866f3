// The npm package as a user runs it: `npm install @progtc/client`, then this file. Arguments: the
// server's URL and key. Prints one JSON line with what happened.
import { defineTool, describeTools, ProgtcClient, runStepToolCalls } from "@progtc/client";
import { progtcTool } from "@progtc/client/ai";
import { mcpTools } from "@progtc/client/mcp";
import { progtcExecutor } from "@progtc/client/codemode";

const [url, key] = process.argv.slice(2);
const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;

const tools = {
  get_weather: defineTool({
    description: "Current weather of a city",
    input: {
      type: "object",
      properties: { city: { type: "string", description: "City name" } },
      required: ["city"],
    },
    execute: ({ city }) => ({ city, celsius: 21 }),
  }),
  add: (a, b) => a + b,
};

const client = new ProgtcClient({ baseUrl: url, apiKey: key });
await client.waitForServer();

// The README's first example: typed tools, and the program's return value.
const readme = await client.executeCode({
  code: `import { get_weather, add } from "tools";
const w = await get_weather({ city: "Paris" });
console.log("sum", await add(2, 3));
try { await get_weather({ town: "Paris" }); } catch (e) { console.log(e.name, e.message); }
export default \`\${w.city}: \${w.celsius} °C\`;`,
  tools,
  returnValue: true,
});

// The step loop.
const code = `import { add } from "tools"; console.log(await add(1, 2), await add(3, 4));`;
let step = await client.executeCodeStep({ code, toolNames: ["add"] });
let steps = 0;
while (step.type === "tool_call") {
  steps++;
  const { toolResults, toolErrors } = await runStepToolCalls(step.tool_calls, tools);
  step = await client.executeCodeStep({
    code,
    toolNames: ["add"],
    state: step.state,
    toolResults,
    toolErrors,
  });
}

// The adapters' entry points, without their frameworks installed.
const aiTool = progtcTool({ client, tools });
const ai = await aiTool.execute(
  { code: 'import { add } from "tools"; export default await add(20, 22);' },
  { toolCallId: "call-1" },
);
const mcp = Object.keys(
  await mcpTools({
    listTools: async () => ({ tools: [{ name: "ping", inputSchema: { type: "object" } }] }),
    callTool: async () => ({ content: [{ type: "text", text: "pong" }] }),
  }),
);
const codemode = await progtcExecutor(client).execute(
  "async () => await codemode.add(1, 2)",
  { add: async (a, b) => a + b },
);

console.log(JSON.stringify({
  runtime,
  ai,
  mcp,
  codemode,
  readme,
  step: { steps, result: step },
  described: describeTools(tools).includes("export function get_weather(input: { city: string })"),
}));
