/**
 * Where sandbox hosts run their code from. A sandbox host is a `deno run` of files of this
 * package, with no permissions and no remote imports; so they must be local files. When the
 * package is itself local (a checkout, `node_modules`), that is this directory. When it runs from
 * a URL (a registry such as JSR, an HTTP server), the server fetches the sandbox's files once
 * into its cache directory, keyed by where they came from, and hosts run that copy.
 *
 * @module
 */
import { join } from "node:path";

/** The sandbox's own files, relative to the `sandbox/` directory of this package. */
export const SANDBOX_FILES: readonly string[] = [
  "typescript/bootstrap.ts",
  "typescript/worker.ts",
  "typescript/program_errors.ts",
  "typescript/tool_calls.ts",
  "python/bootstrap.ts",
  "python/worker.ts",
  "python/build_snapshot.ts",
  "python/pyodide_load.ts",
  "python/glue.ts",
  "python/snapshot_copies.ts",
  "python/runner.py",
  "python/runner_calls.py",
  "python/runner_program.py",
  "host.ts",
  "relay.ts",
  "socket_writer.ts",
  "pending_calls.ts",
  "realm.ts",
  "realm_escapes.ts",
  "realm_memory.ts",
  "realm_object_urls.ts",
  "realm_stdio.ts",
  "channel.ts",
  "lines.ts",
  "text.ts",
  "messages.ts",
  "program_messages.ts",
  "worker_messages.ts",
];

const HERE = new URL("../sandbox/", import.meta.url);

/**
 * The cache directory of progtc: `PROGTC_CACHE_DIR`, else `.cache/progtc` of this checkout when
 * the package is local, else `$XDG_CACHE_HOME/progtc` or `~/.cache/progtc`.
 */
export function cacheDir(): string {
  const explicit = Deno.env.get("PROGTC_CACHE_DIR");
  if (explicit) return explicit;
  if (HERE.protocol === "file:") return new URL("../.cache/progtc/", HERE).pathname;
  const home = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(home, "progtc");
}

let local: Promise<URL> | undefined;

/**
 * The local directory (a `file:` URL ending with `/`) that holds the sandbox's files: this one,
 * or a copy fetched into the cache directory.
 *
 * @example
 * ```ts ignore
 * import { sandboxRoot } from "./sandbox_files.ts";
 * const root = await sandboxRoot();
 * console.log(new URL("typescript/bootstrap.ts", root).pathname);
 * ```
 */
export function sandboxRoot(): Promise<URL> {
  if (HERE.protocol === "file:") return Promise.resolve(HERE);
  return local ??= copy(HERE).catch((error) => {
    local = undefined;
    throw error;
  });
}

async function copy(from: URL): Promise<URL> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(from.href)),
  );
  const id = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const root = join(cacheDir(), `sandbox-${id}`);
  const complete = join(root, ".complete");
  try {
    await Deno.stat(complete);
    return new URL(`file://${root}/`);
  } catch {
    // Not fetched yet.
  }
  // Into a fresh directory first, then renamed: a server never runs a half-written copy.
  const staging = `${root}.${crypto.randomUUID().slice(0, 8)}`;
  for (const name of SANDBOX_FILES) {
    const response = await fetch(new URL(name, from));
    if (!response.ok) {
      throw new Error(`Cannot fetch the sandbox file ${new URL(name, from)}: ${response.status}`);
    }
    const path = join(staging, name);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, new Uint8Array(await response.arrayBuffer()));
  }
  await Deno.writeTextFile(join(staging, ".complete"), from.href);
  try {
    await Deno.rename(staging, root);
  } catch {
    // Another server made it meanwhile.
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return new URL(`file://${root}/`);
}
