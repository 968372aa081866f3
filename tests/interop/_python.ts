/**
 * Runs a script of `tests/interop/` with the reference Python client of one version and returns
 * the JSON line it printed.
 *
 * @module
 */
import { ensureVenv, type ReferenceVersion } from "./venv.ts";

/**
 * What a client script printed (see `stream_client.py`, `step_client.py` and
 * `readme_client.py`).
 */
export interface ClientReport {
  progtc: string;
  scenario: string;
  result?: Record<string, unknown>;
  result_class?: string;
  error?: { type: string; message: string; status: number | null; body: string | null };
  events?: { kind: string; t: number; tool?: string; tool_call?: Record<string, unknown> }[];
  steps?: { tool_calls: Record<string, unknown>[]; state_chars: number }[];
  /** One entry per execution (`many_client.py`): its result, or the error the client raised. */
  results?: {
    i: number;
    result?: Record<string, unknown>;
    error?: { type: string; message: string; status: number | null; body: string | null };
  }[];
  /** What the README's own code printed (`readme_client.py`). */
  printed?: string;
  elapsed_s: number;
}

/** Options of {@linkcode runClient}. */
export interface RunClientOptions {
  /** Extra command-line arguments after the scenario. */
  args?: string[];
  /**
   * Kill the script after this many ms.
   * @default {60000}
   */
  timeoutMs?: number;
}

/**
 * Runs `script` (a file of this folder) for `scenario` against `baseUrl` with `apiKey`, with the
 * Python of the `version` venv; throws when the script fails or prints no report.
 */
export async function runClient(
  version: ReferenceVersion,
  script:
    | "stream_client.py"
    | "step_client.py"
    | "readme_client.py"
    | "step_forks.py"
    | "many_client.py"
    | "prompt_client.py"
    | "session_client.py",
  scenario: string,
  target: { baseUrl: string; apiKey: string },
  options: RunClientOptions = {},
): Promise<ClientReport> {
  const python = await ensureVenv(version);
  const noProxy = ["127.0.0.1", "localhost", Deno.env.get("NO_PROXY")].filter(Boolean).join(",");
  const child = new Deno.Command(python, {
    args: ["-u", new URL(script, import.meta.url).pathname, scenario, ...options.args ?? []],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      PROGTC_BASE_URL: target.baseUrl,
      PROGTC_API_KEY: target.apiKey,
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONIOENCODING: "utf-8",
      NO_PROXY: noProxy,
      no_proxy: noProxy,
    },
  }).spawn();
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout);
  const stderr = decoder.decode(output.stderr);
  const where = `progtc ${version} ${script} ${scenario}`;
  if (timedOut) throw new Error(`${where} was killed after ${timeoutMs} ms\n${stderr}`);
  if (!output.success) throw new Error(`${where} exited with ${output.code}\n${stderr}`);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as ClientReport;
  } catch {
    throw new Error(`${where} printed no report\nstdout: ${stdout.slice(0, 2000)}\n${stderr}`);
  }
}
