/**
 * progtc as an `Executor` of Cloudflare's codemode (`@cloudflare/codemode`): codemode writes the
 * prompt and the tool (`createCodeTool`, or `createBrowserCodeTool` from its browser-safe entry),
 * and {@linkcode progtcExecutor} runs the model's code on a progtc server, its namespaces
 * (`codemode.*`, or one per provider) calling your functions in this process.
 *
 * No dependency on `@cloudflare/codemode`: the executor is the interface it declares.
 *
 * @example
 * ```ts ignore
 * import { createBrowserCodeTool } from "@cloudflare/codemode/browser";
 * import { progtcExecutor } from "@progtc/progtc/client/codemode";
 *
 * const codeTool = createBrowserCodeTool({ tools, executor: progtcExecutor(client) });
 * ```
 *
 * @module
 */
import type { ProgtcClient } from "./client.ts";
import type { Language } from "../protocol.ts";
import type { ToolHandler } from "./tools.ts";

/** A provider of codemode: its tool functions under a namespace. */
export interface CodemodeProvider {
  /** The namespace the code calls them under (`github.listIssues()`). */
  name: string;
  /** The functions, by tool name. */
  fns: Record<string, (...args: unknown[]) => Promise<unknown>>;
  /** Code codemode runs in its own sandboxes after the namespace is made. */
  prelude?: string;
}

/** What codemode's `Executor.execute` answers. */
export interface CodemodeExecuteResult {
  /** The value the code's function returned. */
  result: unknown;
  /** Why the code failed, if it did. */
  error?: string;
  /** What the code printed, a line each. */
  logs?: string[];
}

/** Codemode's `Executor` (`@cloudflare/codemode`), which {@linkcode progtcExecutor} makes. */
export interface CodemodeExecutor {
  /** Runs `code` (codemode's normalised `async () => { ... }`) with the providers' functions. */
  execute(
    code: string,
    providersOrFns:
      | CodemodeProvider[]
      | Record<string, (...args: unknown[]) => Promise<unknown>>,
    options?: { connectors?: unknown[] },
  ): Promise<CodemodeExecuteResult>;
}

/** Options of {@linkcode progtcExecutor}. */
export interface ProgtcExecutorOptions {
  /**
   * The language of the code (codemode's is JavaScript or TypeScript).
   * @default {"typescript"}
   */
  language?: Extract<Language, "typescript" | "javascript">;
}

const NAMESPACE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A codemode `Executor` that runs the code on a progtc server. The code is codemode's
 * normalised async arrow function; its value comes back as `result`, its printed lines as
 * `logs`, and a failure (syntax, runtime, timeout) as `error`. Never throws.
 */
export function progtcExecutor(
  client: ProgtcClient,
  options: ProgtcExecutorOptions = {},
): CodemodeExecutor {
  return {
    async execute(code, providersOrFns, executeOptions) {
      if (executeOptions?.connectors?.length) {
        return { result: undefined, error: "progtc runs no codemode connectors (Workers RPC)" };
      }
      const providers = Array.isArray(providersOrFns)
        ? providersOrFns
        : [{ name: "codemode", fns: providersOrFns }];
      const tools: Record<string, ToolHandler> = {};
      const lines = ['import * as __progtc_tools from "tools";'];
      for (const provider of providers) {
        if (!NAMESPACE.test(provider.name)) {
          return { result: undefined, error: `Not a namespace name: ${provider.name}` };
        }
        for (const [name, fn] of Object.entries(provider.fns)) {
          tools[`${provider.name}.${name}`] = (...args: unknown[]) => fn(...args);
        }
        // Each namespace reaches its tools by name: `ns.x(...)` calls the tool "ns.x".
        lines.push(
          `const ${provider.name} = new Proxy({}, { get: (_, name) => typeof name === "string" ` +
            `? __progtc_tools[${JSON.stringify(`${provider.name}.`)} + name] : undefined });`,
        );
        if (provider.prelude) lines.push(provider.prelude);
      }
      lines.push(`export default await (${code})();`);
      try {
        const result = await client.executeCode({
          code: lines.join("\n"),
          tools,
          language: options.language ?? "typescript",
          returnValue: true,
        });
        const logs = splitLines(result.stdout);
        if (result.type === "success") {
          return { result: result.value, ...(logs.length > 0 ? { logs } : {}) };
        }
        return {
          result: undefined,
          error: result.stderr.trim() || result.type,
          ...(logs.length > 0 ? { logs } : {}),
        };
      } catch (error) {
        return { result: undefined, error: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  return text.replace(/\n$/, "").split("\n");
}
