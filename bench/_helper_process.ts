/**
 * A child `deno` process the bench talks to by lines: it prints one line when ready, then one
 * line per line the bench writes to its stdin. Closing stdin asks it to end; disposing closes
 * stdin, waits a moment, then kills it.
 *
 * @module
 */
import { readLines } from "../runner/lines.ts";

/** A running helper process. */
export interface Helper extends AsyncDisposable {
  pid: number;
  /** The next line the helper prints. */
  next(): Promise<string>;
  /** Writes `line` to the helper's stdin and resolves with its next line. */
  ask(line?: string): Promise<string>;
}

/** Options of {@linkcode startHelper}. */
export interface HelperOptions {
  /** Extra environment variables (the rest of the bench's environment is kept). */
  env?: Record<string, string>;
  /** How long disposal waits for the process to end after closing its stdin, in ms. */
  graceMs?: number;
}

/** The bench's own directory, as a path. */
export const BENCH_DIR: string = new URL(".", import.meta.url).pathname;

/** Starts `deno <args>` in the project directory. */
export function startHelper(args: string[], options: HelperOptions = {}): Helper {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const lines = readLines(child.stdout);
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`Helper ${args.join(" ")} ended early`);
    return value;
  };
  return {
    pid: child.pid,
    next,
    ask: async (line = "") => {
      await writer.write(encoder.encode(`${line}\n`));
      return await next();
    },
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, options.graceMs ?? 5000);
      await child.status;
      clearTimeout(timer);
      await lines.return(undefined);
    },
  };
}
