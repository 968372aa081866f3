/**
 * Adversarial Python programs in their JS realm, and between executions: `import js` reaches
 * the worker's realm, which holds no environment, process, escape, host path or snapshot;
 * lines it forges are ignored and its writes are captured; the runner's own modules are not
 * there to import; nothing one execution stores is
 * visible to the next (each runs in a fresh worker restored from the snapshot). Each attempt
 * asserts its specific outcome and that the server still serves.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { preparePython } from "../../runner/python.ts";
import { assertNotLeaked, assertStillServes, marker } from "./_attempt.ts";
import { sharedServerTests } from "../_helpers.ts";
import { attempts, notCapable, run } from "./_python_attempt.ts";

/** The tests that need no server of their own: steps of one test, on one server. */
const onePythonServer = sharedServerTests(
  "python: realm attempts on one server with a Python host",
  { pythonPoolSize: 1, poolSize: 0 },
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

onePythonServer("python: the runner's own modules are not there to import", async (server) => {
  const result = await server.client.executeCode({
    language: "python",
    code: `
for name in ("_progtc", "_progtc_calls", "_progtc_program"):
    try:
        __import__(name)
        print(name, "imported")
    except ModuleNotFoundError as error:
        print(error)
`,
    tools: {},
  });
  deepStrictEqual(result, {
    type: "success",
    stdout: "No module named '_progtc'\nNo module named '_progtc_calls'\n" +
      "No module named '_progtc_program'\n",
    stderr: "",
  });
  await assertStillServes(server, "python");
});
