/**
 * The `execute` tool: runs one program on the progtc backend with every upstream tool as a
 * function of its server's namespace. Each call is approved first when it must be
 * (`approval.ts`), then made on its upstream server with an abort signal that ends with the
 * program. Progress goes to the client while the program runs (every finished call, the
 * upstream servers' own progress, and a beat every few seconds); the client's cancellation ends
 * the program and its upstream calls.
 *
 * @module
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { JsonSchema } from "../client/schema.ts";
import { defineTool, type ExecuteCodeResult, ProgtcHttpError, type Tool } from "../client/mod.ts";
import { approve, type Asker } from "./approval.ts";
import type { Backend } from "./backend.ts";
import type { Catalog, CatalogEntry } from "./catalog.ts";
import type { ProgramLanguage } from "./declarations.ts";
import { fixOutput, type NamespaceMap, withPrelude } from "./prelude.ts";
import { formatResult } from "./result.ts";

/** A progress report for the client. */
export interface ProgressReport {
  /** Increases with every report. */
  progress: number;
  /** What happened. */
  message: string;
}

/** What one `execute` request has. */
export interface ExecuteContext {
  backend: Backend;
  catalog: Catalog;
  asker: Asker;
  /** Aborted when the client cancels the request. */
  signal: AbortSignal;
  /** Reports progress, when the client asked for it. */
  progress?: (report: ProgressReport) => void;
  /** The budget of the answer, in characters. */
  maxResultChars: number;
  /** Milliseconds between two beats of progress while nothing else happens. */
  beatMs?: number;
  /**
   * The progtc server's tool call timeout, when known (the embedded server's): a call whose
   * approval came later, when the program has already seen a TimeoutError, does not run.
   */
  callTimeoutMs?: number;
}

/** Runs `code` and answers the model. */
export async function runExecute(
  code: string,
  language: ProgramLanguage,
  context: ExecuteContext,
  session?: string,
): Promise<CallToolResult> {
  const calls = new AbortController();
  const signal = AbortSignal.any([context.signal, calls.signal]);
  const started = performance.now();
  let reported = 0;
  let done = 0;
  const report = (message: string) => context.progress?.({ progress: ++reported, message });
  const beat = context.progress
    ? setInterval(
      () => report(`running for ${((performance.now() - started) / 1000).toFixed(0)} s`),
      context.beatMs ?? 5000,
    )
    : undefined;
  const call = async (entry: CatalogEntry, input: Record<string, unknown>) => {
    const name = `${entry.namespace}.${entry.id}`;
    const asked = performance.now();
    await approve(entry, input, context.asker, signal);
    const waited = performance.now() - asked;
    if (context.callTimeoutMs !== undefined && waited >= context.callTimeoutMs) {
      throw new Error(`the approval of ${name} came after the call had timed out: it did not run`);
    }
    const result = await context.catalog.upstreamOf(entry).call(entry.name, input, {
      signal,
      onProgress: (p) => report(`${name}: ${p.message ?? `${p.progress}/${p.total ?? "?"}`}`),
    });
    done++;
    report(`${name} answered (${done} call${done === 1 ? "" : "s"})`);
    if (result.isError) throw new Error(textOf(result) || `${name} failed`);
    return result.structuredContent ?? valueOf(result);
  };
  let result: ExecuteCodeResult;
  try {
    result = await context.backend.client.executeCode({
      code: withPrelude(code, language, namespaceMap(context.catalog)),
      tools: toolsOf(context.catalog, call),
      language,
      signal: context.signal,
      returnValue: true,
      ...(session !== undefined ? { session } : {}),
    });
  } catch (error) {
    // A session that ended, a server at capacity: what the model can act on.
    if (!(error instanceof ProgtcHttpError)) throw error;
    const text = `The program did not run: ${error.status} ${error.code}: ${
      error.message.replace(/^Request failed with \d+ \S+: /, "")
    }`;
    return { content: [{ type: "text", text }], isError: true };
  } finally {
    clearInterval(beat);
    calls.abort(new Error("the program ended"));
  }
  const fixed = {
    ...result,
    stdout: fixOutput(result.stdout, language),
    stderr: fixOutput(result.stderr, language),
  };
  return {
    content: [{ type: "text", text: formatResult(fixed, context.maxResultChars) }],
    ...(result.type === "success" ? {} : { isError: true }),
  };
}

/** Each namespace with the identifiers of its tools. */
export function namespaceMap(catalog: Catalog): NamespaceMap {
  const map: NamespaceMap = Object.fromEntries(catalog.namespaces.map((ns) => [ns, []]));
  for (const entry of catalog.entries) map[entry.namespace]!.push(entry.id);
  return map;
}

/** The progtc tools of a program: every wire name, and each namespace itself. */
function toolsOf(
  catalog: Catalog,
  call: (entry: CatalogEntry, input: Record<string, unknown>) => Promise<unknown>,
): Record<string, Tool> {
  const tools: Record<string, Tool> = {};
  for (const server of catalog.servers) {
    tools[server.namespace] = () => {
      throw new Error(
        `${server.namespace} holds the tools of the server ${JSON.stringify(server.name)}: ` +
          `call one of them, ${server.namespace}.<tool>(...)`,
      );
    };
  }
  for (const entry of catalog.entries) {
    tools[entry.wire] = defineTool({
      input: entry.tool.inputSchema as JsonSchema,
      execute: (input: Record<string, unknown>) => call(entry, input),
    });
  }
  return tools;
}

type Block = { type: string; text?: string };

function textOf(result: CallToolResult): string {
  return (result.content as Block[]).filter((block) => block.type === "text")
    .map((block) => block.text ?? "").join("\n");
}

/** Text content as one string; anything else (images, resources) as its blocks. */
function valueOf(result: CallToolResult): unknown {
  const blocks = result.content as Block[];
  return blocks.every((block) => block.type === "text") ? textOf(result) : blocks;
}
