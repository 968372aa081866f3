/**
 * A session's TypeScript/JavaScript program as it runs: what it declares at its top level is
 * the session's. A program is a module, whose declarations die with it; here each top-level
 * `const`/`let`/`var` becomes an assignment to a global, each class a global, and each function
 * a global too (its declaration stays, hoisted), so the next program of the session finds them
 * (free names resolve to globals) and may declare them again, as in a notebook or a REPL.
 *
 * Only the top level changes, and only declarations: imports (of `tools` too) stay the
 * program's, and so do types, interfaces, enums, namespaces and `using` declarations. Lines
 * stay where they were, so errors point at the program's own lines. Runs in the server, with
 * TypeScript's parser (loaded at the first session program).
 *
 * @module
 */
import type * as Ts from "typescript";
import type { Language } from "../protocol.ts";
import { HttpProblem } from "./problem.ts";

type TsModule = typeof Ts;
let ts: TsModule | undefined;

/** Loads the parser (once); the transform needs it. */
export async function loadSessionParser(): Promise<void> {
  ts ??= (await import("typescript")).default as unknown as TsModule;
}

/** A program the parser could not take (too deeply nested): it cannot run in a session. */
export class SessionSourceError extends Error {}

/**
 * A program's source as it runs in a session of `language` (Python's as it is), the parser
 * loaded first; a program the parser cannot take is `400 invalid_body`.
 */
export async function sessionProgramSource(code: string, language: Language): Promise<string> {
  if (language === "python") return code;
  await loadSessionParser();
  try {
    return sessionSource(code, language === "javascript");
  } catch (error) {
    if (!(error instanceof SessionSourceError)) throw error;
    throw new HttpProblem(400, "invalid_body", `${error.message}; it cannot run in a session`);
  }
}

/**
 * Rewrites a session program's top-level declarations into globals. Source that does not parse
 * is returned as it is: the sandbox reports the real syntax error.
 *
 * @example
 * ```ts
 * import { loadSessionParser, sessionSource } from "./session_source.ts";
 * await loadSessionParser();
 * const code = sessionSource("const rows: number[] = [1, 2];\nfunction f() { return rows; }", false);
 * console.assert(code.includes("globalThis.rows = [1, 2]") && code.startsWith("globalThis.f = f;"));
 * ```
 */
export function sessionSource(code: string, javascript: boolean): string {
  if (!ts) throw new Error("sessionSource before loadSessionParser");
  let file: Ts.SourceFile;
  try {
    file = ts.createSourceFile(
      javascript ? "code.js" : "code.ts",
      code,
      ts.ScriptTarget.Latest,
      false,
      javascript ? ts.ScriptKind.JS : ts.ScriptKind.TS,
    );
  } catch (error) {
    throw new SessionSourceError(`the program cannot be parsed: ${(error as Error).message}`);
  }
  const diagnostics = (file as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics;
  if (diagnostics && diagnostics.length > 0) return code;
  const edits: { start: number; end: number; text: string }[] = [];
  const hoisted: string[] = [];
  for (const statement of file.statements) {
    if (hasModifier(statement, ts.SyntaxKind.DeclareKeyword)) continue;
    if (ts.isVariableStatement(statement)) {
      const text = variables(statement, file, code);
      if (text !== undefined) edits.push(replacement(statement, file, code, text));
    } else if (ts.isFunctionDeclaration(statement)) {
      if (statement.name && statement.body && !isDefault(statement)) {
        hoisted.push(`globalThis.${statement.name.text} = ${statement.name.text};`);
      }
    } else if (ts.isClassDeclaration(statement)) {
      const text = classExpression(statement, file, code);
      if (text !== undefined) edits.push(replacement(statement, file, code, text));
    }
  }
  let out = code;
  for (const edit of edits.reverse()) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return hoisted.length > 0 ? `${hoisted.join(" ")} ${out}` : out;
}

/** The statement's text replaced by `text`, with as many line breaks as it had. */
function replacement(statement: Ts.Statement, file: Ts.SourceFile, code: string, text: string) {
  const start = statement.getStart(file);
  const lines = (code.slice(start, statement.end).match(/\n/g) ?? []).length;
  const have = (text.match(/\n/g) ?? []).length;
  return { start, end: statement.end, text: text + "\n".repeat(Math.max(0, lines - have)) };
}

function hasModifier(node: Ts.Node, kind: Ts.SyntaxKind): boolean {
  const modifiers = (node as { modifiers?: Ts.NodeArray<Ts.ModifierLike> }).modifiers;
  return modifiers?.some((modifier) => modifier.kind === kind) ?? false;
}

function isDefault(node: Ts.Node): boolean {
  return hasModifier(node, ts!.SyntaxKind.DefaultKeyword);
}

/** `const a = 1, { b } = c;` as assignments to globals; undefined for `using` declarations. */
function variables(
  statement: Ts.VariableStatement,
  file: Ts.SourceFile,
  code: string,
): string | undefined {
  const list = statement.declarationList;
  const { NodeFlags } = ts!;
  // The kind is a value of these bits (`await using` is Const | Using), not a set of flags.
  const kind = list.flags & (NodeFlags.Let | NodeFlags.Const | NodeFlags.Using);
  if (kind === NodeFlags.Using || kind === NodeFlags.AwaitUsing) return undefined;
  const isVar = kind === 0;
  const parts: string[] = [];
  for (const declaration of list.declarations) {
    const init = declaration.initializer
      ? code.slice(declaration.initializer.getStart(file), declaration.initializer.end)
      : undefined;
    if (ts!.isIdentifier(declaration.name)) {
      const name = declaration.name.text;
      // `var x;` keeps what x held, as declaring a var again does; `let x;` is undefined.
      const value = init ?? (isVar ? `globalThis.${name}` : "undefined");
      parts.push(`globalThis.${name} = ${value}`);
    } else {
      const target = pattern(declaration.name, file, code);
      parts.push(`(${target} = ${init ?? "undefined"})`);
    }
  }
  return `${parts.join("; ")};`;
}

/** A binding pattern as an assignment pattern whose targets are globals. */
function pattern(name: Ts.BindingName, file: Ts.SourceFile, code: string): string {
  if (ts!.isIdentifier(name)) return `globalThis.${name.text}`;
  const text = (node: Ts.Node) => code.slice(node.getStart(file), node.end);
  const element = (item: Ts.BindingElement, inObject: boolean) => {
    const target = pattern(item.name, file, code);
    const fallback = item.initializer ? ` = ${text(item.initializer)}` : "";
    if (item.dotDotDotToken) return `...${target}`;
    if (!inObject) return target + fallback;
    const key = item.propertyName ? text(item.propertyName) : (item.name as Ts.Identifier).text;
    return `${key}: ${target}${fallback}`;
  };
  if (ts!.isObjectBindingPattern(name)) {
    return `{ ${name.elements.map((item) => element(item, true)).join(", ")} }`;
  }
  return `[${
    name.elements.map((item) => ts!.isOmittedExpression(item) ? "" : element(item, false)).join(
      ", ",
    )
  }]`;
}

/** `class C {}` as `globalThis.C = class C {};` (not for `export default` or decorated ones). */
function classExpression(
  statement: Ts.ClassDeclaration,
  file: Ts.SourceFile,
  code: string,
): string | undefined {
  if (!statement.name || isDefault(statement)) return undefined;
  const modifiers = statement.modifiers ?? [];
  if (modifiers.some((modifier) => ts!.isDecorator(modifier))) return undefined;
  // From the `class` keyword: `export` and `abstract` do not belong to an expression.
  const from = modifiers.length > 0
    ? modifiers[modifiers.length - 1]!.end
    : statement.getStart(file);
  const keyword = code.indexOf("class", from);
  return `globalThis.${statement.name.text} = ${code.slice(keyword, statement.end)};`;
}
