/**
 * JavaScript runtimes the npm package is tested on, installed from npm into
 * `.cache/runtimes/<name>/` on first use (the machine needs only Node and npm): the current Node
 * LTS (npm package `node`) and Bun (npm package `bun`). Node 20 is the machine's own `node`.
 *
 * ```sh
 * deno run -A tests/interop/runtimes.ts   # install them now (CI does)
 * ```
 *
 * @module
 */

const ROOT = new URL("../../.cache/runtimes/", import.meta.url).pathname;

/** The runtimes, by name: the npm package that brings each, and its binary. */
export const RUNTIMES = {
  "node-lts": { spec: "node@26", bin: "node" },
  bun: { spec: "bun@1.4", bin: "bun" },
} as const;

/** A runtime's binary, installed into `.cache/runtimes` first if needed. */
export async function runtime(name: keyof typeof RUNTIMES): Promise<string> {
  const { spec, bin } = RUNTIMES[name];
  const dir = `${ROOT}${name}`;
  const path = `${dir}/node_modules/.bin/${bin}`;
  if (await runs(path)) return path;
  await Deno.mkdir(dir, { recursive: true });
  const install = await new Deno.Command("npm", {
    args: ["install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", spec],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (install.code !== 0 || !await runs(path)) {
    throw new Error(
      `Cannot install ${spec} with npm into ${dir}: ${new TextDecoder().decode(install.stderr)}`,
    );
  }
  return path;
}

async function runs(path: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(path, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return code === 0;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  for (const name of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
    const path = await runtime(name);
    const { stdout } = await new Deno.Command(path, { args: ["--version"] }).output();
    console.log(`${name}: ${path} ${new TextDecoder().decode(stdout).trim()}`);
  }
}
