/**
 * Sessions behind a real load balancer: HAProxy in front of three of our servers keeps each
 * session on the instance that opened it, two ways. Our client sends back the affinity cookie
 * of its session's first response (`cookie SRV insert`); the REAL Python client, which keeps no
 * cookie from one call to the next, names its session in a header that HAProxy hashes (the id,
 * without `new:`). Every session's programs see what the earlier ones defined.
 *
 * progtc-test: waits (3.0 s of CPU in 10.2 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { delay } from "./_helpers.ts";
import {
  HAPROXY,
  type HaproxyConfig,
  type Instance,
  startHaproxy,
  startInstance,
  stopInstances,
} from "./_haproxy.ts";
import { runClient } from "./interop/_python.ts";
import { needsPython } from "./interop/venv.ts";

const KEY = `lb-key-${crypto.randomUUID()}`;

// Python hosts start on demand: only the instances a Python session goes to start one.
const start = (name: string) =>
  startInstance(name, ["--pool-size", "1", "--python-pool-size", "0"], { PROGTC_API_KEY: KEY });

/** Cookie affinity first; a request without the cookie goes by its session id's hash. */
const bySession = (instances: Instance[]): HaproxyConfig => ({
  backend: [
    "  http-request set-header X-Session-Key %[req.hdr(x-progtc-session),regsub(^new:,)]",
    "  balance hdr(x-session-key)",
    "  hash-type consistent",
    "  cookie SRV insert indirect nocache",
    ...instances.map((i) => `  server ${i.name} 127.0.0.1:${i.port} cookie ${i.name}`),
  ],
});

Deno.test({
  name: "HAProxy keeps sessions on their instance: our client by cookie, the Python client by id",
  ignore: HAPROXY === undefined || needsPython.ignore,
  async fn() {
    const instances = await Promise.all(["s1", "s2", "s3"].map(start));
    await using balancer = await startHaproxy(bySession(instances));
    const url = balancer.url;
    const client = new ProgtcClient({ baseUrl: url, apiKey: KEY });
    try {
      await client.waitForServer({ timeoutMs: 10_000 });
      await delay(500);
      // Nine sessions of ours, three programs each, all at once.
      const outputs = await Promise.all(Array.from({ length: 9 }, async (_, i) => {
        const session = client.session();
        const add = (a: number, b: number) => a + b;
        await session.executeCode({
          code: `import { add } from "tools"; const base = await add(${i}, 1000);`,
          tools: { add },
        });
        await session.executeCode({ code: `let twice = base * 2;`, tools: {} });
        const last = await session.executeCode({
          code: `import { add } from "tools"; console.log(base, await add(twice, 1));`,
          tools: { add },
        });
        return last.stdout;
      }));
      assert.deepEqual(
        outputs,
        Array.from({ length: 9 }, (_, i) => `${1000 + i} ${2 * (1000 + i) + 1}\n`),
      );
      const opened = instances.map((i) =>
        (i.process.output.match(/^execution \S+ success .*, session /gm) ?? []).length
      );
      assert.ok(opened.filter((n) => n > 0).length >= 2, `sessions spread: ${opened}`);
      // The Python client, by header: two sessions per language, each on one instance.
      for (const language of ["python", "typescript"]) {
        const reports = await Promise.all(
          [1, 2].map((n) =>
            runClient("0.2.0", "session_client.py", language, { baseUrl: url, apiKey: KEY }, {
              args: [`lb-${language}-session-${n}-${crypto.randomUUID().slice(0, 8)}`],
            })
          ),
        );
        for (const report of reports) {
          assert.deepEqual(
            (report.results ?? []).map((r) => r.result?.stdout ?? r.error),
            language === "python"
              ? ["", "[1, 2, 3] 106\n", "100\n"]
              : ["", "[ 1, 2 ] 103\n", "100\n"],
            JSON.stringify(report),
          );
        }
      }
    } finally {
      await stopInstances(instances);
    }
  },
});
