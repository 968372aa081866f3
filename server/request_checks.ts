/**
 * What a request's program is checked for before anything runs it: the language its
 * `X-Progtc-Language` header names, its size (code and modules), and its client modules.
 *
 * @module
 */
import { type Language, LANGUAGES } from "../protocol.ts";
import type { Runner } from "../runner/runner.ts";
import { utf8Length } from "./utf8_length.ts";
import { HttpProblem } from "./problem.ts";

/** The language named by `X-Progtc-Language`, if any (the body's `language` wins). */
export function headerLanguage(headers: Headers): Language | undefined {
  const value = headers.get("x-progtc-language")?.trim().toLowerCase();
  if (!value) return undefined;
  if (!(LANGUAGES as readonly string[]).includes(value)) {
    throw new HttpProblem(
      400,
      "unsupported_language",
      `Unknown X-Progtc-Language: ${value.slice(0, 40)} (${LANGUAGES.join(", ")})`,
    );
  }
  return value as Language;
}

/** Refuses a program over `maxProgramBytes` (code and modules) before anything parses it. */
export function checkSize(
  code: string,
  modules: Record<string, string> | undefined,
  maxProgramBytes: number,
): void {
  const texts = [code, ...Object.entries(modules ?? {}).flat()];
  // Each UTF-16 unit is at least one byte of UTF-8: past the limit in units, the program is
  // over it without counting its bytes (~3 ms a MB on the event loop).
  const units = texts.reduce((sum, text) => sum + text.length, 0);
  const bytes = units > maxProgramBytes
    ? undefined
    : texts.reduce((sum, text) => sum + utf8Length(text), 0);
  if (bytes === undefined || bytes > maxProgramBytes) {
    throw new HttpProblem(
      413,
      "program_too_large",
      `The program (${
        bytes ?? `at least ${units}`
      } bytes with its modules) exceeds the limit of ${maxProgramBytes} bytes`,
    );
  }
}

/**
 * Refuses client `modules` a program of `language` cannot have: they are Python's, and none may
 * shadow a module the sandbox can import.
 */
export async function checkModules(
  modules: Record<string, string> | undefined,
  language: Language,
  runner: Pick<Runner, "modulesProblem">,
): Promise<void> {
  if (!modules || Object.keys(modules).length === 0) return;
  if (language !== "python") {
    throw new HttpProblem(400, "unsupported_modules", "`modules` are Python modules");
  }
  const problem = await runner.modulesProblem(modules);
  if (problem) throw new HttpProblem(400, "unsupported_modules", problem);
}
