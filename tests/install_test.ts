/**
 * The README's install path from a clone, as written: the `deno install -g` line gives a
 * `progtc` command (installed into a temporary `--root`) whose help, errors and server work; the
 * npm package built by `deno task build:npm` and installed with `npm install <clone>/dist/npm`
 * runs under Node; Deno code imports the clone's client by path and by URL, with no config.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { API_KEY, startServer } from "./_helpers.ts";
import { cleanEnv, freePort } from "./_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const README = await Deno.readTextFile(`${ROOT}README.md`);
const decoder = new TextDecoder();

/** The README's shell line that starts with `start` (in a ```sh block), without its comment. */
function readmeLine(start: string): string {
  const lines = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n"));
  const line = lines.find((l) => l.startsWith(start));
  if (!line) throw new Error(`No README line starts with ${start}`);
  return line.replace(/\s+#.*$/, "").trim();
}

/** Runs `command args` (in `cwd`) to its end; throws with its output when it fails. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cleanEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** This environment, with the running Deno first on PATH (the installed command runs `deno`). */
function envWithDeno(extra: Record<string, string> = {}): Record<string, string> {
  const bin = Deno.execPath().replace(/\/[^/]+$/, "");
  return cleanEnv({ PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`, ...extra });
}

const ADD = `import { add } from "tools"; console.log(await add(20, 22));`;

Deno.test("the README's `deno install -g` line gives a `progtc` command: help, one-line errors, a server", async () => {
  const root = await Deno.makeTempDir({ prefix: "progtc-install-" });
  try {
    const [deno, ...args] = readmeLine("deno install -g").split(/\s+/);
    strictEqual(deno, "deno");
    const installed = await run(
      Deno.execPath(),
      [args[0]!, "-g", "--root", root, ...args.slice(2)],
      {
        env: envWithDeno(),
      },
    );
    strictEqual(installed.code, 0, installed.stderr);
    const progtc = `${root}/bin/progtc`;

    const help = await run(progtc, ["--help"], { env: envWithDeno() });
    strictEqual(help.code, 0, help.stderr);
    ok(help.stdout.includes("progtc serve"), help.stdout);
    const bad = await run(progtc, ["serve", "--port", "abc"], { env: envWithDeno() });
    strictEqual(bad.code, 2);
    strictEqual(bad.stderr, "error: --port abc: expected a whole number from 0 to 65535\n");

    const port = freePort();
    const server = new Deno.Command(progtc, {
      args: ["serve", "--port", String(port)],
      env: envWithDeno({ PROGTC_API_KEY: "installed-key" }),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const client = new ProgtcClient({
        baseUrl: `http://127.0.0.1:${port}`,
        apiKey: "installed-key",
      });
      await client.waitForServer({ timeoutMs: 30_000 });
      deepStrictEqual(
        await client.executeCode({ code: ADD, tools: { add: (a: number, b: number) => a + b } }),
        { type: "success", stdout: "42\n", stderr: "" },
      );
    } finally {
      server.kill("SIGTERM");
      strictEqual((await server.status).code, 0, "progtc serve exits 0 on SIGTERM");
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the README's npm path: `deno task build:npm`, `npm install <clone>/dist/npm`, then Node runs a program", async () => {
  ok(README.includes("`deno task build:npm` writes the npm package to `dist/npm/`"));
  ok(README.includes("`npm install /path/to/the/clone/dist/npm`"));
  const built = await run(Deno.execPath(), ["task", "build:npm"]);
  strictEqual(built.code, 0, built.stderr);
  const project = await Deno.makeTempDir({ prefix: "progtc-npm-project-" });
  try {
    await Deno.writeTextFile(`${project}/package.json`, '{ "name": "app", "type": "module" }\n');
    const npm = await run("npm", ["install", "--no-audit", "--no-fund", `${ROOT}dist/npm`], {
      cwd: project,
    });
    strictEqual(npm.code, 0, npm.stderr);
    await Deno.writeTextFile(
      `${project}/main.mjs`,
      `import { ProgtcClient } from "@progtc/client";
const client = new ProgtcClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
const result = await client.executeCode({
  code: ${JSON.stringify(ADD)},
  tools: { add: (a, b) => a + b },
});
console.log(JSON.stringify({ node: process.version, result }));
`,
    );
    await using t = await startServer();
    const node = await run("node", ["main.mjs", t.url, API_KEY], { cwd: project });
    strictEqual(node.code, 0, node.stderr);
    const report = JSON.parse(node.stdout);
    ok(report.node.startsWith("v"), report.node);
    deepStrictEqual(report.result, { type: "success", stdout: "42\n", stderr: "" });
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});

Deno.test("Deno code imports the clone's client by path and by URL, with no configuration", async () => {
  await using t = await startServer();
  await using files = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname.slice(1));
      if (!/^(client\/[\w.]+\.ts|protocol\.ts)$/.test(path)) {
        return new Response(null, {
          status: 404,
        });
      }
      return new Response(await Deno.readFile(`${ROOT}${path}`), {
        headers: { "content-type": "application/typescript" },
      });
    },
  );
  const host = `127.0.0.1:${files.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "progtc-deno-import-" });
  try {
    for (const from of [`${ROOT}client/mod.ts`, `http://${host}/client/mod.ts`]) {
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        `import { ProgtcClient } from ${JSON.stringify(from)};
const client = new ProgtcClient({ baseUrl: ${JSON.stringify(t.url)}, apiKey: ${
          JSON.stringify(API_KEY)
        } });
const result = await client.executeCode({
  code: ${JSON.stringify(ADD)},
  tools: { add: (a: number, b: number) => a + b },
});
console.log(JSON.stringify(result));
`,
      );
      const program = await run(
        Deno.execPath(),
        ["run", "--no-config", "--no-lock", "--allow-net", `--allow-import=${host}`, "main.ts"],
        { cwd: dir },
      );
      strictEqual(program.code, 0, `${from}: ${program.stderr}`);
      deepStrictEqual(JSON.parse(program.stdout), { type: "success", stdout: "42\n", stderr: "" });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
