// deno-lint-ignore-file no-explicit-any
/**
 * How a TypeScript program's errors read: the runner's and the runtime's frames left out, the
 * program's module named `code.ts` (or `code.js`) and the tools' `tools`, the runtime's advice a
 * program cannot take reworded, at most 64 KiB; and whether an error is the program's syntax
 * error (an early or link error in its own module) rather than one it threw.
 *
 * Runs in the untrusted sandbox host, in the program's realm: {@linkcode programErrors} is
 * serialised with `Function.prototype.toString` into the worker's source (see `../realm.ts`
 * `workerSource`), so it uses nothing from its module's scope. Imports nothing.
 *
 * @module
 */

/** What names the program's and the runner's code in a stack. */
export interface ErrorSources {
  /** The worker's own URL: its frames are the runner's. */
  selfUrl: string;
  /** The program's module URLs (`g`: each match is replaced). */
  userUrlPattern: RegExp;
  /** The tools module's URLs (`g`). */
  toolsUrlPattern: RegExp;
  /** The name the program's module goes by in its errors. */
  fileName: () => string;
  /** The runtime's `Deno.inspect`, captured before a program can replace it. */
  inspect: (value: unknown) => string;
  /** Clips text to at most `bytes` of UTF-8, with `marker` after it when clipped. */
  clipText: (text: string, bytes: number, marker: string) => string;
}

/** A program's errors, as {@linkcode programErrors} formats and classifies them. */
export interface ProgramErrors {
  /** The error's text as the program's author reads it, ending with a newline. */
  format(error: unknown): string;
  /** The error is a syntax or link error of the program's own module. */
  isSyntaxError(error: unknown): boolean;
}

/** Makes the program's error formatting; runs in the worker's realm. */
export function programErrors(sources: ErrorSources): ProgramErrors {
  const { selfUrl, userUrlPattern, toolsUrlPattern, inspect } = sources;
  const frameLine = /^\s+at /;
  const isUserUrl = (text: string) => {
    userUrlPattern.lastIndex = 0;
    return userUrlPattern.test(text);
  };
  const isModuleSyntaxError = (error: Error) =>
    error instanceof TypeError && (error as any).code === "ERR_MODULE_NOT_FOUND" &&
    error.message.startsWith("SyntaxError: ");

  const format = (error: unknown): string => {
    let text: string;
    if (error instanceof Error) {
      text = inspect(error);
      if (isModuleSyntaxError(error)) text = text.replace(/^TypeError: /, "");
    } else {
      text = `Uncaught ${inspect(error)}`;
    }
    const kept: string[] = [];
    for (const line of text.split("\n")) {
      // The runner's frames and the runtime's own (`ext:`, `node:internal`) say nothing to
      // the program's author.
      const internal = frameLine.test(line) &&
        (line.includes(selfUrl) || /\((ext|node):|\bat (ext|node):/.test(line));
      if (!internal) kept.push(line);
      else if (line.endsWith(" {") && kept.length > 0) kept.push(`${kept.pop()} {`);
    }
    const formatted = kept.join("\n").replace(userUrlPattern, sources.fileName())
      .replace(toolsUrlPattern, "tools")
      // Deno's advice is for whoever starts a process; a program cannot take it.
      .replace(/, run again with the --allow-\w+ flag/g, ", which programs here do not have")
      // A module that cannot load: its error code is the runtime's, not the program's concern.
      .replace(/ \{\n\s+code: "ERR_MODULE_NOT_FOUND"\n\}$/, "")
      .replace(
        "npm specifiers were requested; but --no-npm is specified",
        'npm: packages cannot be imported by programs here (import tools from "tools")',
      );
    // The server keeps at most 64 KiB of an error's text (MAX_ERROR_BYTES).
    return sources.clipText(formatted, 65_536, "\n[progtc: error text truncated]") + "\n";
  };

  const isSyntaxError = (error: unknown): boolean => {
    if (!(error instanceof Error)) return false;
    const [first = "", ...frames] = String(error.stack ?? "").split("\n");
    if (isModuleSyntaxError(error)) return isUserUrl(error.message);
    // Early errors and link errors ("does not provide an export named") name the location in
    // the message line and have no frame in the user's code; a SyntaxError thrown while the
    // program runs (JSON.parse) has one.
    return error instanceof SyntaxError && isUserUrl(first) &&
      !frames.some((f) => frameLine.test(f) && isUserUrl(f));
  };

  return { format, isSyntaxError };
}
