/**
 * The progtc client for Deno, Node ≥ 20, Bun and browsers: run a program on a progtc server
 * with your own tools.
 *
 * @example
 * ```ts ignore
 * import { ProgtcClient } from "@progtc/progtc/client";
 *
 * const client = new ProgtcClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "secret" });
 * const result = await client.executeCode({
 *   code: `
 *     import { get_weather } from "tools";
 *     const weather = await get_weather("London", "UK");
 *     console.log(\`The weather is: \${weather}\`);
 *   `,
 *   tools: {
 *     get_weather: (city: string, country: string) => `Weather in ${city}, ${country}: Sunny, 22°C`,
 *   },
 * });
 * console.log(result.stdout); // The weather is: Weather in London, UK: Sunny, 22°C
 * ```
 *
 * @module
 */
export { ProgtcClient, type ProgtcClientOptions } from "./client.ts";
export { type ExecuteCodeOptions } from "./execute_stream.ts";
export { type ExecuteCodeStepOptions, runStepToolCalls } from "./execute_step.ts";
export { ProgtcConnectionError, ProgtcHttpError, ProgtcProtocolError } from "./errors.ts";
export { ProgtcSession, type SessionOptions, type SessionProgramOptions } from "./session.ts";
export {
  ProgtcStepSession,
  type StepSessionOptions,
  type StepSessionProgramOptions,
  type StepSessionResult,
} from "./step_session.ts";
export {
  type DefinedTool,
  defineTool,
  type InferInput,
  isDefinedTool,
  type Tool,
  type ToolDefinition,
  type ToolHandler,
} from "./tools.ts";
export { type DescribeOptions, describeTools } from "./describe.ts";
export type {
  JsonSchema,
  JsonSchemaType,
  Schema,
  StandardIssue,
  StandardResult,
  StandardSchemaV1,
} from "./schema.ts";
export type {
  DeterminismError,
  DeterminismMode,
  ExecuteCodeResult,
  ExecuteCodeStepResult,
  JsonValue,
  Language,
  OutputFrame,
  Problem,
  ProblemCode,
  StepToolCall,
  StepToolCalls,
  StepToolError,
  ToolCall,
} from "../protocol.ts";
