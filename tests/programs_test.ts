/**
 * What programs may use (docs/PROGRAMS.md), tried: what a TypeScript program may import and call,
 * what a Python program has (CPython 3.14, its standard library, an in-memory file system) and
 * does not (packages, the network, the machine's files and environment). One server for the file.
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../client/mod.ts";
import { startServer, type TestServer } from "./_helpers.ts";

const README = new URL("../README.md", import.meta.url).pathname;
const HOST_PATH = Deno.env.get("PATH") ?? "";

function run(t: TestServer, language: "typescript" | "python", code: string) {
  return t.client.executeCode({
    code,
    language,
    tools: { add: (a: number, b: number) => a + b },
  });
}

function assertSuccess(result: ExecuteCodeResult, stdout: string): void {
  deepStrictEqual(result, { type: "success", stdout, stderr: "" });
}

/** The program failed before it ran (nothing printed) with a `TypeError` at load. */
function assertRefusedAtLoad(result: ExecuteCodeResult): void {
  strictEqual(result.stdout, "", JSON.stringify(result));
  ok(result.type === "runtime_error" || result.type === "syntax_error", JSON.stringify(result));
  match(result.stderr, /^TypeError: /);
}

Deno.test("what programs may use: TypeScript and Python, as docs/PROGRAMS.md says", async (t) => {
  await using server = await startServer({ pythonPoolSize: 1 });

  await t.step(
    "TypeScript: Deno's runtime without permissions, node: built-ins, data: modules, the tools",
    async () => {
      assertSuccess(
        await run(
          server,
          "typescript",
          `import { createHash } from "node:crypto";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { format } from "node:util";
import answer from "data:text/javascript,export default 42";
import { add } from "tools";
import * as tools from "tools";
const dynamic = await import("tools");
console.log(Deno.version.deno, new Intl.DateTimeFormat("en", { timeZone: "Asia/Tokyo", hour: "numeric", hourCycle: "h23" }).format(0));
console.log(typeof crypto.randomUUID(), structuredClone({ a: [1] }).a[0], new TextEncoder().encode("é").length);
console.log(createHash("sha256").update("x").digest("hex").slice(0, 8), join("a", "b"), Buffer.from("hi").toString("base64"), format("%d", 7));
console.log(answer, await add(1, 2), await tools.add(2, 3), await dynamic.add(3, 4));`,
        ),
        `${Deno.version.deno} 09\nstring 1 2\n2d711642 a/b aGk= 7\n42 3 5 7\n`,
      );
    },
  );

  for (
    const specifier of [
      "npm:zod",
      "jsr:@std/path",
      "https://deno.land/std/path/mod.ts",
      "zod",
      "./helper.ts",
    ]
  ) {
    await t.step(
      `TypeScript: an import of ${specifier} fails before the program runs`,
      async () => {
        assertRefusedAtLoad(
          await run(
            server,
            "typescript",
            `import * as m from ${JSON.stringify(specifier)};\nconsole.log(m);`,
          ),
        );
      },
    );
  }

  await t.step(
    "TypeScript: blob: URLs the program makes work with fetch, not import; process-wide things are refused",
    async () => {
      assertSuccess(
        await run(
          server,
          "typescript",
          `const url = URL.createObjectURL(new Blob(["export default 1;"], { type: "text/javascript" }));
console.log(await (await fetch(url)).text());
for (const attempt of [
  () => import(url),
  () => new BroadcastChannel("x"),
  () => navigator.locks.request("x", () => {}),
  () => new Worker("data:text/javascript,", { type: "module" }),
  () => Deno.kill(Deno.pid, "SIGTERM"),
]) {
  try { await attempt(); console.log("allowed"); } catch (e) { console.log(e.name); }
}`,
        ),
        "export default 1;\nTypeError\n" + "NotCapable\n".repeat(4),
      );
    },
  );

  await t.step(
    "TypeScript: node:fs, fetch, Deno.env, Deno.readFile and subprocesses are denied",
    async () => {
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const url = `http://127.0.0.1:${listener.addr.port}/`;
      assertSuccess(
        await run(
          server,
          "typescript",
          `import { readFileSync } from "node:fs";
for (const attempt of [
  () => readFileSync(${JSON.stringify(README)}),
  () => fetch(${JSON.stringify(url)}),
  () => Deno.env.get("PATH"),
  () => Deno.readFile(${JSON.stringify(README)}),
  () => new Deno.Command("/bin/true").output(),
]) {
  try { await attempt(); console.log("allowed"); } catch (e) { console.log(e.name); }
}`,
        ),
        "NotCapable\n".repeat(5),
      );
    },
  );

  await t.step(
    "Python: CPython 3.14 on Pyodide, top-level await, the standard library, the tools",
    async () => {
      assertSuccess(
        await run(
          server,
          "python",
          `import sys, asyncio, json, re, datetime, zoneinfo, math, statistics, decimal, fractions
import itertools, collections, dataclasses, typing, csv, io, hashlib, base64, sqlite3
import tools
from tools import add
print(sys.version_info[:2], sys.platform)
print(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).isoformat(), len(zoneinfo.available_timezones()))
db = sqlite3.connect(":memory:")
print(db.execute("select 6 * 7").fetchone()[0], statistics.mean([1, 2, 3]), hashlib.sha256(b"x").hexdigest()[:8])
print(await add(1, 2), issubclass(tools.ToolError, Exception))`,
        ),
        "(3, 14) emscripten\n2026-01-01T00:00:00+00:00 0\n42 2 2d711642\n3 True\n",
      );
    },
  );

  await t.step("Python: an in-memory file system that starts empty for every program", async () => {
    const code = `import os
print(os.path.exists("/tmp/notes.txt"))
with open("/tmp/notes.txt", "w") as f:
    f.write("kept in memory")
print(open("/tmp/notes.txt").read())`;
    assertSuccess(await run(server, "python", code), "False\nkept in memory\n");
    assertSuccess(await run(server, "python", code), "False\nkept in memory\n");
  });

  for (const module of ["numpy", "pandas", "pydantic", "requests", "micropip"]) {
    await t.step(`Python: import ${module} raises ModuleNotFoundError`, async () => {
      const result = await run(server, "python", `import ${module}`);
      strictEqual(result.type, "runtime_error");
      ok(
        result.stderr.endsWith(`ModuleNotFoundError: No module named '${module}'\n`),
        result.stderr,
      );
    });
  }

  await t.step(
    "Python: no network, no files of the machine, an environment of its own",
    async () => {
      assertSuccess(
        await run(
          server,
          "python",
          `import os, socket, urllib.request
for attempt in [
    lambda: urllib.request.urlopen("http://127.0.0.1:9/", timeout=2),
    lambda: socket.create_connection(("127.0.0.1", 9), timeout=2),
    lambda: open(${JSON.stringify(README)}).read(),
]:
    try:
        attempt()
        print("allowed")
    except Exception:
        print("failed")
print("server's" if os.environ.get("PATH") == ${JSON.stringify(HOST_PATH)} else "own")`,
        ),
        "failed\nfailed\nfailed\nown\n",
      );
    },
  );
});
