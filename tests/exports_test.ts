/**
 * The public exports of `mod.ts`, `client/mod.ts` and `server/mod.ts`, types included (read with
 * `deno doc --json`), pinned as literals. A failing pin means the public API changed: if the
 * change is deliberate, update the list here in the same commit.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";

const CLIENT = [
  "class ProgtcClient",
  "class ProgtcConnectionError",
  "class ProgtcHttpError",
  "class ProgtcProtocolError",
  "class ProgtcSession",
  "class ProgtcStepSession",
  "function defineTool",
  "function describeTools",
  "function isDefinedTool",
  "function runStepToolCalls",
  "interface DefinedTool",
  "interface DescribeOptions",
  "interface DeterminismError",
  "interface ExecuteCodeOptions",
  "interface ExecuteCodeResult",
  "interface ExecuteCodeStepOptions",
  "interface JsonSchema",
  "interface OutputFrame",
  "interface Problem",
  "interface ProgtcClientOptions",
  "interface SessionOptions",
  "interface StandardIssue",
  "interface StandardSchemaV1",
  "interface StepSessionOptions",
  "interface StepToolCall",
  "interface StepToolCalls",
  "interface StepToolError",
  "interface ToolCall",
  "interface ToolDefinition",
  "typeAlias DeterminismMode",
  "typeAlias ExecuteCodeStepResult",
  "typeAlias InferInput",
  "typeAlias JsonSchemaType",
  "typeAlias JsonValue",
  "typeAlias Language",
  "typeAlias ProblemCode",
  "typeAlias Schema",
  "typeAlias SessionProgramOptions",
  "typeAlias StandardResult",
  "typeAlias StepSessionProgramOptions",
  "typeAlias StepSessionResult",
  "typeAlias Tool",
  "typeAlias ToolHandler",
];

const SERVER = [
  "class OptionError",
  "function createApp",
  "function serve",
  "interface App",
  "interface AppOptions",
  "interface ConnectionStats",
  "interface ProgtcServer",
  "interface RunnerHooks",
  "interface ServeOptions",
  "interface Settings",
  "typeAlias Audience",
  "typeAlias LogFormat",
  "typeAlias SandboxKind",
];

/** `<kind> <name>` of every export of `module`, sorted. */
async function exportsOf(module: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", module],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  const doc = JSON.parse(new TextDecoder().decode(output.stdout));
  const [node] = Object.values(doc.nodes) as {
    symbols: { name: string; declarations: { kind: string }[] }[];
  }[];
  return node!.symbols.map((s) => `${s.declarations[0]!.kind} ${s.name}`).sort();
}

Deno.test("client/mod.ts exports exactly the pinned names (a failing pin means the change is deliberate)", async () => {
  deepStrictEqual(await exportsOf("client/mod.ts"), CLIENT);
});

Deno.test("server/mod.ts exports exactly the pinned names (a failing pin means the change is deliberate)", async () => {
  deepStrictEqual(await exportsOf("server/mod.ts"), SERVER);
});

Deno.test("mod.ts exports exactly the client's and the server's names", async () => {
  deepStrictEqual(await exportsOf("mod.ts"), [...CLIENT, ...SERVER].sort());
});
