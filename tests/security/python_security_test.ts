/**
 * Adversarial Python programs: each attempt asserts its specific outcome (the host is not
 * reached, the process is stopped, memory is contained) and that the server still serves.
 *
 * What stands where: Pyodide's file system is an in-memory one of its own (no host mount);
 * Python's sockets cannot connect; `import js` reaches the worker realm, whose Deno
 * permissions are "read the Pyodide package" only; the process has a data rlimit and is killed
 * on timeout; every execution gets a new process restored from the snapshot.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ExecuteCodeResult } from "../../client/mod.ts";
import { preparePython } from "../../runner/python.ts";
import {
  assertNotLeaked,
  assertProcessGone,
  assertStillServes,
  marker,
  startServer,
  type TestServer,
} from "./_attempt.ts";
import { sharedServerTests } from "../_helpers.ts";

/** The tests that need no server of their own: steps of one test, on one server. */
const onePythonServer = sharedServerTests(
  "python: attempts on one server with two Python hosts",
  { pythonPoolSize: 2, poolSize: 0 },
);

/** Runs a Python program with the given tools through the server's client. */
function run(
  server: TestServer,
  code: string,
  tools: Record<string, (...args: never[]) => unknown> = {},
): Promise<ExecuteCodeResult> {
  return server.client.executeCode({ code, tools, language: "python" });
}

/** Starts a server with two warm Python sandbox hosts and no TypeScript pool. */
function pythonServer(
  options: { codeExecutionTimeoutMs?: number; pythonMemoryMb?: number } = {},
): Promise<TestServer> {
  return startServer({ pythonPoolSize: 2, poolSize: 0, ...options });
}

/** Asserts a runtime_error whose last stderr line is `last`. */
function assertRaised(result: ExecuteCodeResult, last: string | RegExp): void {
  strictEqual(result.type, "runtime_error", JSON.stringify(result));
  const line = result.stderr.trimEnd().split("\n").at(-1) ?? "";
  if (typeof last === "string") strictEqual(line, last);
  else ok(last.test(line), `unexpected last line: ${line}`);
}

/** A denial Deno raises in the worker, as the program's `attempts` print it. */
function notCapable(kind: string, target?: string): string {
  return `JsException: ${denial(kind, target)}`;
}

function denial(kind: string, target?: string): string {
  const what = target === undefined ? "" : ` to ${JSON.stringify(target)}`;
  return `NotCapable: Requires ${kind} access${what}, run again with the --allow-${kind} flag`;
}

/** A host directory with a file holding a fresh secret; removed on dispose. */
async function hostSecret(): Promise<
  AsyncDisposable & { dir: string; path: string; secret: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-python-security-" });
  const path = `${dir}/secret.txt`;
  const secret = marker();
  await Deno.writeTextFile(path, secret);
  return { dir, path, secret, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

// ─── file system ────────────────────────────────────────────────────────────────────────────

/** Python that runs each attempt and prints how it failed (or `ok: <value>`). */
function attempts(lines: string[]): string {
  return [
    "def attempt(f):",
    "    try:",
    "        print('ok:', f())",
    "    except BaseException as error:",
    "        print(f'{type(error).__name__}: {error}')",
    ...lines.map((line) => `attempt(lambda: ${line})`),
    "",
  ].join("\n");
}

onePythonServer(
  "python: open() and os.listdir() see only Pyodide's in-memory file system",
  async (server) => {
    await using file = await hostSecret();
    const name = marker("progtc-python-write");
    const result = await run(
      server,
      "import os\n" + attempts([
        `open("/etc/passwd").read()`,
        `open(${JSON.stringify(file.path)}).read()`,
        `sorted(os.listdir("/"))`,
        `open("/tmp/${name}", "w").write("written in memory")`,
        `open(${JSON.stringify(`${file.dir}/${name}`)}, "w").write("x")`,
      ]),
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: [
        "FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd'",
        `FileNotFoundError: [Errno 44] No such file or directory: '${file.path}'`,
        "ok: ['dev', 'home', 'lib', 'proc', 'tmp']",
        "ok: 17",
        `FileNotFoundError: [Errno 44] No such file or directory: '${file.dir}/${name}'`,
        "",
      ].join("\n"),
      stderr: "",
    });
    assertNotLeaked(result, file.secret);
    strictEqual(await exists(`/tmp/${name}`), false);
    strictEqual(await exists(`${file.dir}/${name}`), false);
    await assertStillServes(server, "python");
  },
);

onePythonServer("python: js.Deno file access is denied read and write access", async (server) => {
  await using file = await hostSecret();
  const target = `${file.dir}/${marker("progtc-python-write")}`;
  const result = await run(
    server,
    "import js\n" + attempts([
      `js.Deno.readTextFileSync("/etc/passwd")`,
      `js.Deno.readTextFileSync(${JSON.stringify(file.path)})`,
      `list(js.Deno.readDirSync("/"))`,
      `js.Deno.writeTextFileSync(${JSON.stringify(target)}, "x")`,
    ]),
  );
  deepStrictEqual(result, {
    type: "success",
    stdout: [
      notCapable("read", "/etc/passwd"),
      notCapable("read", file.path),
      notCapable("read", "/"),
      notCapable("write", target),
      "",
    ].join("\n"),
    stderr: "",
  });
  assertNotLeaked(result, file.secret);
  strictEqual(await exists(target), false);
  await assertStillServes(server, "python");
});

// ─── network ────────────────────────────────────────────────────────────────────────────────

onePythonServer(
  "python: urllib, socket, pyodide.http and js.fetch reach no host",
  async (server) => {
    let hits = 0;
    await using listener = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      hits++;
      return new Response("reached");
    });
    const { port } = listener.addr;
    const url = `http://127.0.0.1:${port}/`;
    const result = await run(
      server,
      `
import js, socket, urllib.request
import pyodide.http
${
        attempts([
          `urllib.request.urlopen("${url}")`,
          `socket.create_connection(("127.0.0.1", ${port}))`,
        ])
      }
for fetch in (lambda: pyodide.http.pyfetch("${url}"), lambda: js.fetch("${url}")):
    try:
        await fetch()
    except BaseException as error:
        print(f"{type(error).__name__}: {error}")
`,
    );
    const denied =
      `Requires net access to "127.0.0.1:${port}", run again with the --allow-net flag`;
    deepStrictEqual(result, {
      type: "success",
      stdout: [
        "URLError: <urlopen error [Errno 23] Host is unreachable>",
        "OSError: [Errno 23] Host is unreachable",
        `AbortError: ${denied}`,
        `JsException: NotCapable: ${denied}`,
        "",
      ].join("\n"),
      stderr: "",
    });
    strictEqual(hits, 0);
    await assertStillServes(server, "python");
  },
);

// ─── the JS realm ───────────────────────────────────────────────────────────────────────────

onePythonServer(
  "python: js reaches no environment, process, eval escape, worker or host path",
  async (server) => {
    const result = await run(
      server,
      "import js\n" + attempts([
        `js.Deno.env.get("HOME")`,
        `js.Deno.env.toObject()`,
        `js.Deno.Command.new("/bin/sh", js.eval("({args: ['-c', 'id']})")).outputSync()`,
        `js.eval("Deno.readTextFileSync('/etc/passwd')")`,
        `js.eval("new Worker(URL.createObjectURL(new Blob(['1'], {type: 'text/javascript'})), ` +
        `{type: 'module', deno: {permissions: {read: true, net: true, env: true, run: true}}})")`,
        `js.process.cwd()`,
        `js.Deno.execPath()`,
      ]),
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: [
        notCapable("env", "HOME"),
        notCapable("env"),
        notCapable("run", "/bin/sh"),
        notCapable("read", "/etc/passwd"),
        "JsException: NotCapable: Starting a worker is not allowed in the progtc sandbox",
        "ok: /",
        "JsException: NotCapable: Deno.execPath() is not allowed in the progtc sandbox",
        "",
      ].join("\n"),
      stderr: "",
    });
    await assertStillServes(server, "python");
  },
);

onePythonServer(
  "python: neither pyodide_js nor the file system exposes the memory snapshot",
  async (server) => {
    const { snapshot } = await preparePython();
    const result = await run(
      server,
      `
import js, pyodide_js
config = pyodide_js._api.config
print(hasattr(config, "_loadSnapshot"), hasattr(config, "_makeSnapshot"))
${attempts([`len(js.Deno.readFileSync(${JSON.stringify(snapshot)}))`])}`,
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: `False False\n${notCapable("read", snapshot)}\n`,
      stderr: "",
    });
    await assertStillServes(server, "python");
  },
);

onePythonServer(
  "python: forged protocol lines from js.postMessage are ignored by the host realm",
  async (server) => {
    const result = await run(
      server,
      `import js\njs.postMessage('{"type":"tool_call","id":1,"name":"rm","args":[],"kwargs":{}}')\n` +
        `js.postMessage('{"type":"success"}')\n` +
        `import asyncio\nawait asyncio.sleep(0.3)\nprint("after")\n`,
    );
    deepStrictEqual(result, { type: "success", stdout: "after\n", stderr: "" });
    await assertStillServes(server, "python");
  },
);

onePythonServer(
  "python: js.console, js.Deno.stdout and js.process.stdout writes are captured",
  async (server) => {
    const result = await run(
      server,
      `import js\njs.console.log("from console")\n` +
        `js.Deno.stdout.writeSync(js.TextEncoder.new().encode("raw\\n"))\n` +
        `js.process.stdout.write("node\\n")\njs.console.error("to stderr")\nprint("python")\n`,
    );
    deepStrictEqual(result, {
      type: "success",
      stdout: "from console\nraw\nnode\npython\n",
      stderr: "to stderr\n",
    });
    await assertStillServes(server, "python");
  },
);

// ─── processes ──────────────────────────────────────────────────────────────────────────────

onePythonServer("python: subprocess and os.system start no host process", async (server) => {
  await using file = await hostSecret();
  const touched = `${file.dir}/${marker("progtc-python-run")}`;
  // os.system would go through Emscripten to Node's child_process, which the sandbox denies (no
  // env, no run permission); the runner answers it with an OSError before that.
  const result = await run(
    server,
    `import os, posix, subprocess\n` +
      attempts([
        `subprocess.run(["/usr/bin/touch", ${JSON.stringify(touched)}])`,
        `os.system("/usr/bin/touch ${touched}")`,
      ]) +
      `posix.system("/usr/bin/touch ${touched}")\nprint("never")\n`,
  );
  strictEqual(result.type, "runtime_error", JSON.stringify(result));
  strictEqual(
    result.stdout,
    "OSError: [Errno 138] emscripten does not support processes.\n" +
      "OSError: [Errno 138] programs here cannot run commands\n",
  );
  ok(
    result.stderr.endsWith("OSError: [Errno 138] programs here cannot run commands\n"),
    result.stderr,
  );
  strictEqual(await exists(touched), false);
  await assertStillServes(server, "python");
});

// ─── state between executions ───────────────────────────────────────────────────────────────

onePythonServer("python: nothing one execution stores is visible to the next", async (server) => {
  const secret = marker();
  const first = await run(
    server,
    `
import builtins, json, os, random, sys, types
builtins.LEAK = "${secret}"
json.LEAK = "${secret}"
sys.modules["leak"] = types.ModuleType("leak")
os.environ["LEAK"] = "${secret}"
open("/tmp/leak.txt", "w").write("${secret}")
import js
js.LEAK = "${secret}"
LEAK = "${secret}"
print(random.random())
`,
  );
  strictEqual(first.type, "success", first.stderr);
  const second = await run(
    server,
    `
import builtins, json, os, random, sys
import js
print(random.random())
print([
    hasattr(builtins, "LEAK"),
    hasattr(json, "LEAK"),
    "leak" in sys.modules,
    "LEAK" in os.environ,
    os.path.exists("/tmp/leak.txt"),
    hasattr(js, "LEAK"),
    "LEAK" in globals(),
])
`,
  );
  strictEqual(second.type, "success", second.stderr);
  const [draw, seen] = second.stdout.split("\n");
  strictEqual(seen, "[False, False, False, False, False, False, False]");
  // The snapshot froze the random generator; every sandbox seeds it again.
  ok(draw !== first.stdout.trim(), `both sandboxes drew ${draw}`);
  assertNotLeaked(second, secret);
});

// ─── CPU and memory ─────────────────────────────────────────────────────────────────────────

/** Runs a program that prints its sandbox's pid and then never ends; asserts the kill. */
async function assertStoppedAtTimeout(server: TestServer, loop: string): Promise<void> {
  const started = performance.now();
  const result = await run(server, `import js\nprint(js.Deno.pid, flush=True)\n${loop}\n`);
  const ms = performance.now() - started;
  strictEqual(result.type, "timeout_error", JSON.stringify(result));
  ok(result.stderr.includes("did not finish within 1 s"), result.stderr);
  ok(ms < 2500, `the timeout took ${ms} ms`);
  const pid = Number(result.stdout.split("\n")[0]);
  ok(Number.isSafeInteger(pid) && pid > 0, `no pid in ${result.stdout}`);
  await assertProcessGone(pid);
}

/** The loops that must be stopped at the timeout, on one server of their own (1 s timeout). */
const oneTimeoutServer = sharedServerTests(
  "python: loops on one server with a timeout of 1 s",
  { pythonPoolSize: 2, poolSize: 0, codeExecutionTimeoutMs: 1000 },
);

oneTimeoutServer(
  "python: busy loops, also one that catches every exception, are killed",
  async (server) => {
    await assertStoppedAtTimeout(server, "while True:\n    pass");
    await assertStoppedAtTimeout(
      server,
      "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    );
    await assertStillServes(server, "python");
  },
);

oneTimeoutServer(
  "python: C-level loops (sum over a huge range, a regex catastrophe) are killed",
  async (server) => {
    await assertStoppedAtTimeout(server, "print(sum(range(10**12)))");
    await assertStoppedAtTimeout(server, `import re\nre.match(r"(a+)+$", "a" * 64 + "b")`);
    await assertStillServes(server, "python");
  },
);

onePythonServer("python: huge allocations fail inside the program", async (server) => {
  const result = await run(
    server,
    attempts(["bytearray(10**10)"]) + `b = bytearray(1_500_000_000)\nprint("never")\n`,
  );
  assertRaised(result, "MemoryError");
  strictEqual(result.stdout, "OverflowError: cannot fit 'int' into an index-sized integer\n");
  await assertStillServes(server, "python");
});

Deno.test("python: a growing list hits MemoryError at the memory cap, and is catchable", async () => {
  // A smaller cap than the default 512 MiB, so the list fills it sooner.
  await using server = await pythonServer({ codeExecutionTimeoutMs: 20_000, pythonMemoryMb: 256 });
  const result = await run(
    server,
    `
chunks = []
try:
    while True:
        chunks.append(bytearray(10**7))
except MemoryError:
    size = len(chunks) * 10
    chunks = None
    print("MemoryError after", "at least 100" if size >= 100 else size, "MB")
`,
  );
  deepStrictEqual(result, {
    type: "success",
    stdout: "MemoryError after at least 100 MB\n",
    stderr: "",
  });
  await assertStillServes(server, "python");
});

onePythonServer("python: a memory bomb in the JS realm kills only its sandbox", async (server) => {
  const result = await run(
    server,
    `import js\njs.eval("const a = []; while (true) a.push(new Array(1e6).fill(1.5));")\n`,
  );
  strictEqual(result.type, "runtime_error", JSON.stringify(result));
  ok(result.stderr.includes("exceeded its memory limit"), result.stderr);
  await assertStillServes(server, "python");
});
