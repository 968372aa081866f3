/**
 * What the adversarial Python programs share (python_security_test.ts, python_realm_test.ts,
 * python_limits_test.ts): running one, the attempts it makes and how their failures read, a
 * host secret to look for, and whether a host path exists.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../../client/mod.ts";
import { marker, type TestServer } from "./_attempt.ts";

/** Runs a Python program with the given tools through the server's client. */
export function run(
  server: TestServer,
  code: string,
  tools: Record<string, (...args: never[]) => unknown> = {},
): Promise<ExecuteCodeResult> {
  return server.client.executeCode({ code, tools, language: "python" });
}

/** Asserts a runtime_error whose last stderr line is `last`. */
export function assertRaised(result: ExecuteCodeResult, last: string | RegExp): void {
  strictEqual(result.type, "runtime_error", JSON.stringify(result));
  const line = result.stderr.trimEnd().split("\n").at(-1) ?? "";
  if (typeof last === "string") strictEqual(line, last);
  else ok(last.test(line), `unexpected last line: ${line}`);
}

/** A denial Deno raises in the worker, as the program's `attempts` print it. */
export function notCapable(kind: string, target?: string): string {
  return `JsException: ${denial(kind, target)}`;
}

/** Deno's denial of `kind` access (to `target`), as it words it. */
export function denial(kind: string, target?: string): string {
  const what = target === undefined ? "" : ` to ${JSON.stringify(target)}`;
  return `NotCapable: Requires ${kind} access${what}, run again with the --allow-${kind} flag`;
}

/** A host directory with a file holding a fresh secret; removed on dispose. */
export async function hostSecret(): Promise<
  AsyncDisposable & { dir: string; path: string; secret: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-python-security-" });
  const path = `${dir}/secret.txt`;
  const secret = marker();
  await Deno.writeTextFile(path, secret);
  return { dir, path, secret, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Whether `path` exists on the host. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Python that runs each attempt and prints how it failed (or `ok: <value>`). */
export function attempts(lines: string[]): string {
  return [
    "def attempt(f):",
    "    try:",
    "        print('ok:', f())",
    "    except BaseException as error:",
    "        print(f'{type(error).__name__}: {error}')",
    ...lines.map((line) => `attempt(lambda: ${line})`),
    "",
  ].join("\n");
}
