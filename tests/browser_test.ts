/**
 * The npm package in a real browser: headless Chromium (Debian's `chromium`) opens a page served
 * from one origin, which imports the built package (`buildNpm`, as `deno task build:npm`) and
 * runs the README example against a progtc server on another origin, started with `--cors-origin` for the page's origin;
 * the page answers the program's tool call itself and posts what happened back to the test. A
 * page from an origin not on the list cannot call the server.
 *
 * Skipped (with the reason) where Chromium is not installed; `.ci/run` installs it.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { buildNpm } from "../npm/build.ts";
import { API_KEY, assertOnlyPoolHosts, startServer } from "./_helpers.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>progtc in a page</title>
<script type="module">
import { defineTool, ProgtcClient } from "/npm/esm/client/mod.js";
const params = new URLSearchParams(location.search);
const report = (body) => fetch("/report", { method: "POST", body: JSON.stringify(body) });
try {
  // A test key: a real page must not hold one (a same-origin proxy adds it).
  const client = new ProgtcClient({ baseUrl: params.get("server"), apiKey: params.get("key") });
  const answeredBy = [];
  const tools = {
    get_weather: defineTool({
      description: "Current weather of a city",
      input: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      execute: ({ city }) => {
        answeredBy.push(location.origin);
        return { city, celsius: 21, sky: "sunny" };
      },
    }),
  };
  const result = await client.executeCode({
    code: 'import { get_weather } from "tools";\\n' +
      'const w = await get_weather({ city: "Paris" });\\n' +
      'console.log(w.sky);\\n' +
      'export default \`\${w.city}: \${w.celsius} °C\`;',
    tools,
    returnValue: true,
  });
  await report({ result, answeredBy, userAgent: navigator.userAgent });
} catch (error) {
  await report({ error: error.name + ": " + error.message });
}
</script>`;

/** A static server for the page and the package, which receives the page's report. */
function pageServer(dist: string) {
  const reported = Promise.withResolvers<Record<string, unknown>>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/" || pathname === "/index.html") {
      return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (pathname === "/report" && request.method === "POST") {
      reported.resolve(await request.json());
      return new Response(null, { status: 204 });
    }
    if (pathname.startsWith("/npm/") && !pathname.includes("..")) {
      try {
        const body = await Deno.readFile(`${dist}${pathname.slice("/npm/".length)}`);
        return new Response(body, { headers: { "content-type": "text/javascript" } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    }
    return new Response("not found", { status: 404 });
  });
  return { server, origin: `http://127.0.0.1:${server.addr.port}`, reported: reported.promise };
}

/** Opens `url` in headless Chromium until the page reports (or 60 s pass). */
async function browse(url: string, reported: Promise<Record<string, unknown>>) {
  const profile = await Deno.makeTempDir({ prefix: "progtc-chromium-" });
  const chromium = new Deno.Command(CHROMIUM!, {
    args: [
      "--headless=new",
      "--no-sandbox", // as root in CI; the page is ours
      "--disable-gpu",
      "--no-first-run",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      url,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(chromium.stderr).text();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reported,
      new Promise<never>((_, reject) => {
        timer = setTimeout(async () => {
          reject(new Error(`the page did not report in 60 s; chromium said: ${await stderr}`));
        }, 60_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    chromium.kill("SIGKILL");
    await chromium.status;
    await stderr.catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "the npm package in headless Chromium: the README example, a tool call answered by the page",
  ignore: CHROMIUM === undefined,
  async fn() {
    // Built in a directory of its own: `dist/npm/` is the README's (tests/install_test.ts).
    const dist = await buildNpm(await Deno.makeTempDir({ prefix: "progtc-browser-npm-" }));
    const page = pageServer(dist);
    const stranger = pageServer(dist);
    try {
      await using t = await startServer({ corsOrigins: [page.origin] });
      const query = `?server=${encodeURIComponent(t.url)}&key=${API_KEY}`;

      const report = await browse(`${page.origin}/${query}`, page.reported);
      ok(String(report.userAgent).includes("HeadlessChrome"), String(report.userAgent));
      deepStrictEqual(report.result, {
        type: "success",
        stdout: "sunny\n",
        stderr: "",
        value: "Paris: 21 °C",
      });
      deepStrictEqual(report.answeredBy, [page.origin]);

      // A page of another origin: the browser refuses it the server (no CORS headers for it).
      const refused = await browse(`${stranger.origin}/${query}`, stranger.reported);
      strictEqual(typeof refused.error, "string");
      ok(
        String(refused.error).startsWith(
          `ProgtcConnectionError: Cannot reach the progtc server at ${t.url}/execute-code`,
        ),
        String(refused.error),
      );
      await assertOnlyPoolHosts(t);
    } finally {
      await page.server.shutdown();
      await stranger.server.shutdown();
      await Deno.remove(dist, { recursive: true });
    }
  },
});
