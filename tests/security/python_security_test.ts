/**
 * Adversarial Python programs against the host: each attempt asserts its specific outcome (the
 * host is not reached) and that the server still serves. The JS realm and what stays between
 * executions: python_realm_test.ts; CPU and memory: python_limits_test.ts.
 *
 * What stands where: Pyodide's file system is an in-memory one of its own (no host mount);
 * Python's sockets cannot connect; `import js` reaches the worker realm, whose Deno
 * permissions are "read the Pyodide package" only; a program cannot start a process.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { assertNotLeaked, assertStillServes, marker } from "./_attempt.ts";
import { sharedServerTests } from "../_helpers.ts";
import { attempts, exists, hostSecret, notCapable, run } from "./_python_attempt.ts";

/** The tests that need no server of their own: steps of one test, on one server. */
const onePythonServer = sharedServerTests(
  "python: attempts on one server with two Python hosts",
  { pythonPoolSize: 2, poolSize: 0 },
);

// ─── file system ────────────────────────────────────────────────────────────────────────────

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
