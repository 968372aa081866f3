/**
 * How a sandbox host process is started: the locked `deno run` flags, a cleared environment
 * with no cache directory, the runtime by its name only, the host's socket and its data rlimit;
 * its stdio and working directory.
 *
 * @module
 */
import type { HostOptions } from "./host_options.ts";

/** `deno run` flags every sandbox process starts with: no prompt, config, lock or fetching. */
export const LOCKED_RUN_FLAGS: readonly string[] = [
  "run",
  "--quiet",
  "--no-prompt",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--cached-only",
];

/**
 * Where a sandbox process is told Deno's cache is: a path under `/dev/null`, which no one can
 * create (not even root), so Deno runs with its caches in memory. A program may make Deno
 * transpile modules and fill its code cache; nothing of that reaches the disk.
 */
export const SANDBOX_DENO_DIR = "/dev/null/progtc-sandbox-has-no-cache";

/**
 * The whole environment of a sandbox process: nothing of the server's (its API key above all),
 * and no cache directory Deno could write to (no `HOME` either: Deno would look for one there).
 */
export function sandboxEnv(): Record<string, string> {
  return { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_DIR: SANDBOX_DENO_DIR };
}

/**
 * The runtime as a host starts it: by its name on a `PATH` of its own directory, so that the
 * process's `argv[0]` (Node's `process.argv0`) does not tell a program where it is installed.
 */
export function sandboxRuntime(denoPath: string): { cmd: string; env: Record<string, string> } {
  const slash = denoPath.lastIndexOf("/");
  const name = denoPath.slice(slash + 1);
  if (slash <= 0 || name !== "deno") return { cmd: denoPath, env: {} };
  // Its own directory only: nothing else of that name is ever run in its place.
  return { cmd: name, env: { PATH: denoPath.slice(0, slash) } };
}

/** The command line of a host: locked flags, its socket, and the data rlimit. */
export function commandLine(
  options: HostOptions,
): { cmd: string; args: string[]; env: Record<string, string> } {
  const socket = options.listener.path;
  const deno = [
    ...LOCKED_RUN_FLAGS,
    `--location=http://sandbox-${crypto.randomUUID()}.progtc.invalid/`,
    `--v8-flags=${[`--max-old-space-size=${options.heapMb}`, ...options.v8Flags].join(",")}`,
    // Its realm opens the socket, then gives these up.
    `--allow-net=unix:${socket}`,
    `--allow-write=${socket}`,
    ...withReadOf(options.entry.flags, socket),
    options.entry.module,
    socket,
    String(options.maxLineLength),
    // The host ends by itself once this process is no longer its parent.
    String(Deno.pid),
    String(options.programMemoryBytes),
    String(options.maxPrograms),
  ];
  const runtime = sandboxRuntime(options.denoPath);
  const env = { ...options.env, ...sandboxEnv(), ...runtime.env };
  if (options.prlimitPath === null) return { cmd: runtime.cmd, args: deno, env };
  const data = options.dataMb * 1024 * 1024;
  return {
    cmd: options.prlimitPath,
    args: [`--data=${data}:${data}`, "--", runtime.cmd, ...deno],
    env,
  };
}

/** Starts a host process with its command line, in `/`, its stdin and stderr piped. */
export function spawnHost(options: HostOptions): Deno.ChildProcess {
  const { cmd, args, env } = commandLine(options);
  return new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "null",
    // Never the server's own: programs can write to fd 2. Its tail is for the server's log
    // (and says when a host of one program could not allocate: `allocationAborted`).
    stderr: "piped",
    // Nothing of the server's own directory: `Deno.cwd()` needs no permission.
    cwd: "/",
    clearEnv: true,
    env,
  }).spawn();
}

/** `flags` with `path` added to their `--allow-read` (or a new one). */
function withReadOf(flags: string[], path: string): string[] {
  const read = flags.findIndex((flag) => flag.startsWith("--allow-read="));
  if (read === -1) return [...flags, `--allow-read=${path}`];
  return flags.map((flag, i) => i === read ? `${flag},${path}` : flag);
}
