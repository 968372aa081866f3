/**
 * The servers the bench measures, each a process of its own that it starts, talks to over HTTP
 * only, and stops:
 *
 * - **ours**: `cli.ts serve` with the environment, V8 flags and permissions of `deno task serve`
 *   (read from deno.json), on port 0, plus the given CLI flags;
 * - **the reference**: progtc 0.2.0's own server (`progtc serve`, FastAPI on uvicorn) from a venv
 *   that the set-up creates with `pip install "progtc[server]==0.2.0"`;
 * - **the echo**: `_echo_server.ts`, the floor of an HTTP + SSE tool-call protocol.
 *
 * Each prints the address it listens on; the bench reads it from the process's output.
 *
 * @module
 */
import { processTree, procStat, sleep, treeCpu } from "./_lib.ts";

/** The checkout of progtc for Deno that the bench runs as "ours" (`--ours` may change it). */
export let oursRoot: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Measure the checkout at `dir` instead of this one. */
export function setOursRoot(dir: string): void {
  oursRoot = dir.replace(/\/$/, "");
}

/** The reference server version, and where its venv lives. */
export const REFERENCE_VERSION = "0.2.0";
const REFERENCE_VENV = new URL(`../.venv/progtc-server-${REFERENCE_VERSION}`, import.meta.url)
  .pathname;

/** A server process. */
export interface Server extends AsyncDisposable {
  name: string;
  url: string;
  pid: number;
  apiKey: string;
  /** Calls `listener` with every line the process prints from now on; returns an unsubscribe. */
  onLine(listener: (line: string) => void): () => void;
  /** Stops the process (SIGTERM, then SIGKILL) and any descendants left behind. */
  stop(): Promise<void>;
}

/** The API key every bench server is started with. */
export const API_KEY = `bench-${crypto.randomUUID()}`;

interface Command {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** `deno task <name>` of deno.json as a command: leading `VAR=value` words become env. */
async function denoTask(name: string): Promise<Command> {
  const json = JSON.parse(await Deno.readTextFile(`${oursRoot}/deno.json`));
  const words = String(json.tasks?.[name] ?? "").split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? "")) {
    const [key, ...value] = words.shift()!.split("=");
    env[key!] = value.join("=");
  }
  if (words.shift() !== "deno" || words.includes("&&") || words.includes("|")) {
    throw new Error(`Cannot read the ${name} task of ${oursRoot}/deno.json: ${json.tasks?.[name]}`);
  }
  return { command: Deno.execPath(), args: words, env };
}

/** The command line ours is started with (for the report). */
export async function oursCommand(flags: string[] = []): Promise<string> {
  const { command, args, env } = await denoTask("serve");
  return [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    command === Deno.execPath() ? "deno" : command,
    ...args,
    "--port 0 --api-key K",
    ...flags,
  ].join(" ");
}

async function start(
  name: string,
  { command, args, env }: Command,
  listening: RegExp,
  cwd: string,
): Promise<Server> {
  const child = new Deno.Command(command, {
    args,
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const listeners = new Set<(line: string) => void>();
  const recent: string[] = [];
  const found = Promise.withResolvers<string>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        recent.push(line);
        if (recent.length > 50) recent.shift();
        const url = line.match(listening)?.[1];
        if (url) found.resolve(url);
        for (const listener of listeners) listener(line);
      }
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const exited = child.status.then((status) => {
    found.reject(
      new Error(`${name} exited (${status.code}) before listening:\n${recent.join("\n")}`),
    );
    return status;
  });
  const timer = setTimeout(
    () => found.reject(new Error(`${name} did not listen within 120 s:\n${recent.join("\n")}`)),
    120_000,
  );
  let url: string;
  try {
    url = await found.promise;
  } catch (error) {
    await kill(child.pid, [], exited);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      const tree = (await processTree(child.pid)).slice(1);
      await kill(child.pid, tree.map((p) => [p.pid, p.start]), exited);
      await reading.catch(() => {});
    })();
  return {
    name,
    url: url.replace(/\/$/, ""),
    pid: child.pid,
    apiKey: API_KEY,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** SIGTERM, SIGKILL after 10 s; then SIGKILL to the descendants (pid, start) still alive. */
async function kill(pid: number, descendants: [number, number][], exited: Promise<unknown>) {
  const signal = (target: number, name: Deno.Signal) => {
    try {
      Deno.kill(target, name);
    } catch {
      // Already gone.
    }
  };
  signal(pid, "SIGTERM");
  const timer = setTimeout(() => signal(pid, "SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
  for (const [child, start] of descendants) {
    if ((await procStat(child))?.start === start) signal(child, "SIGKILL");
  }
}

/** Our server with `flags` (CLI flags of `cli.ts serve` that exist today). */
export async function startOurs(flags: string[] = [], name = "ours"): Promise<Server> {
  const task = await denoTask("serve");
  task.args.push("--port", "0", "--api-key", API_KEY, ...flags);
  return await start(name, task, /listening on (http:\/\/\S+)/, oursRoot);
}

/** The echo floor (`_echo_server.ts`), with the same environment and V8 flags as ours. */
export async function startEcho(): Promise<Server> {
  const { env, args } = await denoTask("serve");
  const v8 = args.filter((a) => a.startsWith("--v8-flags="));
  const script = new URL("./_echo_server.ts", import.meta.url).pathname;
  return await start(
    "echo",
    {
      command: Deno.execPath(),
      args: ["run", "--allow-net", ...v8, script, API_KEY],
      env,
    },
    /listening on (http:\/\/\S+)/,
    oursRoot,
  );
}

/** The reference server, progtc 0.2.0 from PyPI (the venv is made by {@linkcode setUp}). */
export async function startReference(): Promise<Server> {
  return await start(
    "reference",
    {
      command: `${REFERENCE_VENV}/bin/progtc`,
      args: ["serve", "--host", "127.0.0.1", "--port", "0", "--api-key", API_KEY],
      env: { PYTHONDONTWRITEBYTECODE: "1", NO_COLOR: "1" },
    },
    /running on (http:\/\/[\d.]+:[1-9]\d*)/,
    oursRoot,
  );
}

/**
 * Waits until the process tree of `server` has been quiet for `quietMs` (at most 20 ms of CPU,
 * and the same number of processes) or `maxMs` passed: after a burst, sandboxes may still be
 * starting or ending.
 */
export async function settle(server: Server, quietMs = 500, maxMs = 15_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let last = await treeCpu(server.pid);
  while (performance.now() < deadline) {
    await sleep(quietMs);
    const now = await treeCpu(server.pid);
    if (now.total - last.total <= 20 && now.processes === last.processes) return;
    last = now;
  }
}

async function run(command: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONDONTWRITEBYTECODE: "1", PIP_NO_INPUT: "1" },
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!out.success) {
    throw new Error(
      `${what}: ${command} ${args.join(" ")} failed:\n${text(out.stderr).slice(-2000)}`,
    );
  }
  return text(out.stdout);
}

/**
 * The reference server's venv (idempotent, like tests/interop/venv.ts): usable once its
 * `.progtc-ready` marker exists; built under an exclusive lock, the marker written last.
 */
async function referenceVenv(log: (line: string) => void): Promise<void> {
  const marker = `${REFERENCE_VENV}/.progtc-ready`;
  const ready = () =>
    Deno.stat(marker).then(() => Deno.stat(`${REFERENCE_VENV}/bin/python`)).then(
      () => true,
      () => false,
    );
  if (await ready()) return;
  await Deno.mkdir(new URL("../.venv", import.meta.url), { recursive: true });
  using lock = await Deno.open(`${REFERENCE_VENV}.lock`, { create: true, write: true });
  await lock.lock(true);
  if (await ready()) return;
  const python = Deno.env.get("PYTHON") || "python3";
  log(`set-up: creating ${REFERENCE_VENV} (pip install "progtc[server]==${REFERENCE_VERSION}")`);
  await Deno.remove(REFERENCE_VENV, { recursive: true }).catch(() => {});
  await run(python, ["-m", "venv", REFERENCE_VENV], "Cannot create the reference venv");
  await run(`${REFERENCE_VENV}/bin/python`, [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
    `progtc[server]==${REFERENCE_VERSION}`,
  ], "Cannot install the reference server from PyPI");
  const version = await run(`${REFERENCE_VENV}/bin/python`, [
    "-c",
    "import importlib.metadata as m, progtc.server.api; print(m.version('progtc'))",
  ], "The reference server does not import");
  if (version.trim() !== REFERENCE_VERSION) throw new Error(`The venv holds progtc ${version}`);
  await Deno.writeTextFile(marker, `progtc[server] ${REFERENCE_VERSION}\n`);
}

/**
 * The set-up, not measured: the reference server's venv (needs Python ≥ 3.11 with pip and
 * PyPI on first run) and our Python snapshot (`deno task prepare`, so that no measured
 * execution builds it).
 */
export async function setUp(log: (line: string) => void): Promise<void> {
  await referenceVenv(log);
  const { command, args, env } = await denoTask("prepare");
  log("set-up: deno task prepare (Python snapshot)");
  const out = await new Deno.Command(command, {
    args,
    env,
    cwd: oursRoot,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno task prepare failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}
