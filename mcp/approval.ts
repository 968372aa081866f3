/**
 * Calls the person should see first: a tool the server annotates `destructiveHint` (and not
 * `readOnlyHint`), or one the config lists in `confirm`. When the MCP client supports form
 * elicitation, the person is asked before each such call (`elicitation/create`, tied to the
 * `execute` request); when it does not, the call is refused unless the config's
 * `allowUnconfirmed` lets it run. A refusal is an error the program sees as a `ToolError`,
 * saying why the tool did not run.
 *
 * @module
 */
import type { CatalogEntry } from "./catalog.ts";

/** What the person answered. */
export type Answer = "accept" | "decline" | "cancel";

/** The client side of approvals, for one `execute` request. */
export interface Asker {
  /** Whether the client can ask the person (it declared form elicitation). */
  readonly canAsk: boolean;
  /** Asks the person; rejects when the client fails to answer. */
  ask(message: string, signal: AbortSignal): Promise<Answer>;
}

/** The longest arguments shown to the person. */
const MAX_SHOWN_ARGS = 2000;

/**
 * Resolves when the call of `entry` with `args` may run; throws an `Error` whose message the
 * program sees when it may not.
 */
export async function approve(
  entry: CatalogEntry,
  args: unknown,
  asker: Asker,
  signal: AbortSignal,
): Promise<void> {
  if (!entry.confirm) return;
  const name = `${entry.namespace}.${entry.id}`;
  if (!asker.canAsk) {
    if (entry.allowUnconfirmed) return;
    throw new Error(
      `${name} needs the person's approval (${why(entry)}), and this MCP client cannot ask ` +
        `(it does not support elicitation), so it did not run. The progtc mcp config can allow ` +
        `it without asking (allowUnconfirmed).`,
    );
  }
  let answer: Answer;
  try {
    answer = await asker.ask(messageOf(entry, args), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(
      `asking the person to approve ${name} failed (${(error as Error).message}), so it did ` +
        `not run`,
    );
  }
  if (answer === "accept") return;
  throw new Error(
    answer === "decline"
      ? `the person declined ${name}, so it did not run`
      : `the person dismissed the approval of ${name}, so it did not run`,
  );
}

/** What the person reads. */
export function messageOf(entry: CatalogEntry, args: unknown): string {
  let shown = JSON.stringify(args ?? {}, null, 2) ?? "{}";
  if (shown.length > MAX_SHOWN_ARGS) {
    shown = `${shown.slice(0, MAX_SHOWN_ARGS)}\n… (${
      shown.length - MAX_SHOWN_ARGS
    } more characters)`;
  }
  return `A program wants to run ${entry.name} on the MCP server "${entry.server}" (${
    why(entry)
  }) with:\n${shown}\nAllow this call?`;
}

function why(entry: CatalogEntry): string {
  return entry.tool.annotations?.destructiveHint === true
    ? "the server marks it destructive"
    : "the config asks to confirm it";
}
