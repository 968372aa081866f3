/**
 * The tools of examples/pydantic_ai_agent.py described for a Python program: the text its
 * agent puts in its instructions, from
 * `describeTools(tools, { language: "python", client: "reference" })` (the agent runs programs
 * with the reference Python client). The tools run in the Python agent; here they are only
 * declared (their schemas).
 *
 * ```sh
 * deno run examples/python_tool_docs.ts > tool_docs.txt
 * ```
 *
 * @module
 */
import { defineTool, describeTools } from "../client/mod.ts";

const declared = () => {
  throw new Error("declared here, run by the Python agent");
};

/** The Python agent's tools, as declarations. */
export const tools = {
  get_weather: defineTool({
    description: "Current temperature of a city, in °C",
    input: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
    output: {
      type: "object",
      properties: { city: { type: "string" }, celsius: { type: "number" } },
      required: ["city", "celsius"],
    },
    execute: declared,
  }),
  search_hotels: defineTool({
    description: "Hotels of a city, best rated first",
    input: {
      type: "object",
      properties: { city: { type: "string" }, limit: { type: "integer", default: 3 } },
      required: ["city"],
    },
    output: { type: "array", items: { type: "string" } },
    execute: declared,
  }),
};

if (import.meta.main) {
  // The agent runs its programs with the reference Python client: a failed tool ends the
  // execution, and only what the program prints comes back.
  console.log(describeTools(tools, { language: "python", client: "reference" }));
}
