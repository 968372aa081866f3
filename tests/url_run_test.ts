/**
 * The server runs from a URL, as it does when installed from a registry: the package is served
 * over HTTP (only the files `publish.include` lists), its dependencies mapped as the registry
 * maps them, and `cli.ts serve` started from there in an empty directory. Its sandboxes cannot
 * run remote code, so the server fetches their files into its cache first; TypeScript and Python
 * programs run.
 *
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { ProgtcClient } from "../client/mod.ts";
import { DenoProcess, freePort } from "./_process.ts";
import { SANDBOX_FILES } from "../runner/sandbox_files.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function published(path: string): boolean {
  return denoJson.publish.include.some((entry) =>
    entry.endsWith("/") ? path.startsWith(entry) : path === entry
  );
}

Deno.test("`cli.ts serve` run from a URL runs TypeScript and Python programs in sandboxes fetched into its cache", async () => {
  const requests: string[] = [];
  await using registry = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname.slice(1));
      requests.push(path);
      if (path === "import_map.json") return Response.json({ imports: denoJson.imports });
      if (!published(path) || path.includes("..")) {
        return new Response("not published", {
          status: 404,
        });
      }
      try {
        return new Response(await Deno.readFile(`${ROOT}${path}`));
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${registry.addr.port}/`;
  const cwd = await Deno.makeTempDir({ prefix: "progtc-url-" });
  const port = freePort();
  await using server = new DenoProcess(
    [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--unstable-no-legacy-abort",
      "--import-map",
      `${base}import_map.json`,
      `${base}cli.ts`,
      "serve",
      "--port",
      String(port),
      "--api-key",
      "k",
    ],
    { ...Deno.env.toObject(), PROGTC_CACHE_DIR: `${cwd}/cache` },
    undefined,
    cwd,
  );
  const client = new ProgtcClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k" });
  await client.waitForServer({ timeoutMs: 60_000 }).catch((error) => {
    throw new Error(`${error}\n${server.output}`);
  });
  const add = { add: (a: number, b: number) => a + b };
  const first = await client.executeCode({
    code: `import { add } from "tools"; console.log(await add(1, 2));`,
    tools: add,
  }).catch((error) => error);
  if (!(first?.type === "success")) throw new Error(`${first}\n${server.output}`);
  deepStrictEqual(
    await client.executeCode({
      code: `import { add } from "tools"; console.log(await add(1, 2));`,
      tools: add,
    }),
    { type: "success", stdout: "3\n", stderr: "" },
  );
  deepStrictEqual(
    await client.executeCode({
      language: "python",
      code: `from tools import add\nprint(await add(2, 3))`,
      tools: add,
    }),
    { type: "success", stdout: "5\n", stderr: "" },
  );
  ok(requests.includes("sandbox/typescript/bootstrap.ts"), "the sandbox's files were fetched");
  const copies = [...Deno.readDirSync(`${cwd}/cache`)].map((e) => e.name);
  ok(copies.some((name) => name.startsWith("sandbox-")), `cache: ${copies}`);
  await Deno.remove(cwd, { recursive: true }).catch(() => {});
});

Deno.test("the sandbox files a server fetches are every file of sandbox/, all published", async () => {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${ROOT}sandbox/${dir}`)) {
      if (entry.isDirectory) await walk(`${dir}${entry.name}/`);
      else files.push(`${dir}${entry.name}`);
    }
  };
  await walk("");
  deepStrictEqual([...SANDBOX_FILES].sort(), files.sort());
  for (const file of files) ok(published(`sandbox/${file}`), `sandbox/${file} is not published`);
});
