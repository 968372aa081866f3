/**
 * The `progtc` command line: `progtc serve [options]`, `progtc mcp [options]` (in `mcp/cli.ts`),
 * `progtc prepare`, `--help`, `--version`.
 * Install it from a checkout with `deno install -g -A -f -n progtc --config deno.json cli.ts`
 * (README), or run it as `deno task serve`.
 *
 * @example
 * ```sh
 * PROGTC_API_KEY=your-secret-key progtc serve --host 127.0.0.1 --port 8000
 * ```
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { preparePython } from "./runner/python.ts";
import { MAX_TIMER_MS } from "./server/option_kinds.ts";
import { serveHelp } from "./server/serve_args.ts";
import { serveCommand } from "./server/serve_command.ts";
export type { KeySource } from "./server/config.ts";
export {
  type OptionSource,
  type ParsedServeArgs,
  parseServeArgs,
  UsageError,
} from "./server/serve_args.ts";

/** The version of this package. */
export const VERSION: string = denoJson.version;

/** A command: a line of the help, and what it runs (resolving with the exit code). */
interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
  /** It answers `--help` itself (on stderr: `progtc mcp`'s stdout is its MCP channel). */
  ownHelp?: boolean;
}

/** The commands, one line each. */
const COMMANDS: Record<string, Command> = {
  serve: { summary: "Run the server", run: (args) => serveCommand(args, VERSION) },
  // `progtc mcp` has its own flags and help; loaded only for it (the MCP SDK reads the
  // environment as it loads, which `cli.ts --help` without permissions must not need).
  mcp: {
    summary:
      "A code-mode MCP server in front of MCP servers: progtc mcp --config servers.json [options]",
    run: async (args) => (await import("./mcp/cli.ts")).mcpMain(args, VERSION),
    ownHelp: true,
  },
  prepare: { summary: "Build the Python snapshot now (install time, images)", run: prepare },
};

async function prepare(): Promise<number> {
  const entry = await preparePython();
  console.error(`Python snapshot ready (${Math.round(entry.buildMs)} ms): ${entry.snapshot}`);
  return 0;
}

function help(): string {
  const commands = Object.entries(COMMANDS)
    .map(([name, command]) => `  progtc ${name.padEnd(15)} ${command.summary}`).join("\n");
  return `progtc ${VERSION}: programmatic tool calling in a locked sandbox

Usage:
${commands}
  progtc --help | --version

Every option is also read from PROGTC_<OPTION> (PROGTC_PORT, PROGTC_CODE_EXECUTION_TIMEOUT,
...); the command line wins. Give the API key as PROGTC_API_KEY: on the command line it is
visible to every user of the machine (ps) and in your shell history. Durations are in
seconds (decimals allowed), at most ${MAX_TIMER_MS / 1000} (about 24.8 days, the longest
timer); MiB are 2^20 bytes.

${serveHelp()}
`;
}

/** Runs the command line; resolves with the exit code once the command ends. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const own = Object.hasOwn(COMMANDS, name ?? "") && COMMANDS[name!]!.ownHelp === true;
  const asks = (...flags: string[]) =>
    flags.includes(name ?? "") || (!own && rest.some((a) => flags.includes(a)));
  if (asks("--version", "-V")) {
    console.log(VERSION);
    return 0;
  }
  if (name === undefined || asks("--help", "-h")) {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(
      `error: ${name}: unknown command (expected one of ${Object.keys(COMMANDS).join(", ")}; ` +
        "progtc --help)",
    );
    return 2;
  }
  return await command.run(rest);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
