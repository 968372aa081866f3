/**
 * Errors are written for the model that wrote the program: no module-loader codes on syntax
 * errors, no advice to pass `--allow-*` flags, no runtime-internal frames, a hint when the program
 * is in the other language, and a client error that names the URL it could not reach.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { ProgtcClient, ProgtcConnectionError } from "../client/mod.ts";
import { API_KEY, startServer } from "./_helpers.ts";

const tools = { get: () => 1 };

/** What no error text may contain. */
function assertModelFriendly(stderr: string): void {
  for (const noise of ["ERR_MODULE_NOT_FOUND", "--allow-", "ext:", "node:internal", "file://"]) {
    ok(!stderr.includes(noise), `${JSON.stringify(noise)} in ${JSON.stringify(stderr)}`);
  }
}

Deno.test("TypeScript errors: the program's own frames and words only", async () => {
  await using t = await startServer();
  const run = (code: string) => t.client.executeCode({ code, tools });

  const syntax = await run("const x = ;\nconsole.log(x)");
  deepStrictEqual(syntax, {
    type: "syntax_error",
    stdout: "",
    stderr: "SyntaxError: Expression expected\n  |\n1 | const x = ;\n  |           ~\n" +
      "    at code.ts:1:11\n",
  });

  const denied = await run("await Deno.readTextFile('/etc/passwd')");
  deepStrictEqual(denied, {
    type: "runtime_error",
    stdout: "",
    stderr: 'NotCapable: Requires read access to "/etc/passwd", which programs here do not have\n' +
      "    at code.ts:1:12\n",
  });

  const thrown = await run("function f() { throw new Error('boom') }\nf()");
  deepStrictEqual(thrown.stderr, "Error: boom\n    at f (code.ts:1:22)\n    at code.ts:2:1\n");

  const npm = await run("import pad from 'npm:left-pad';\nconsole.log(pad)");
  strictEqual(npm.type, "runtime_error");
  ok(npm.stderr.startsWith("TypeError: npm: packages cannot be imported by programs here"));

  for (const result of [syntax, denied, thrown, npm]) assertModelFriendly(result.stderr);
});

Deno.test("Python errors: a command is an OSError, not a crash of the interpreter", async () => {
  await using t = await startServer({ pythonPoolSize: 1 });
  const result = await t.client.executeCode({
    language: "python",
    code: "import os\ntry:\n    os.system('ls')\nexcept OSError as e:\n    print(e)\n" +
      "import posix\nposix.system('id')",
    tools,
  });
  strictEqual(result.type, "runtime_error");
  strictEqual(result.stdout, "[Errno 138] programs here cannot run commands\n");
  ok(result.stderr.endsWith("OSError: [Errno 138] programs here cannot run commands\n"));
  assertModelFriendly(result.stderr);
  // The interpreter survived: the server still runs Python.
  const after = await t.client.executeCode({ language: "python", code: "print(1)", tools });
  deepStrictEqual(after, { type: "success", stdout: "1\n", stderr: "" });
});

Deno.test("a program in the other language gets a syntax error with a hint", async () => {
  await using t = await startServer({ pythonPoolSize: 1 });
  const python = await t.client.executeCode({
    code: "from tools import get\nx = await get()\nprint(x)",
    tools,
  });
  strictEqual(python.type, "syntax_error");
  ok(
    python.stderr.endsWith(
      "Hint: this program looks like Python, but the server ran it as typescript. " +
        'Send it with "language": "python".\n',
    ),
    python.stderr,
  );
  assertModelFriendly(python.stderr);

  const typescript = await t.client.executeCode({
    language: "python",
    code: 'import { get } from "tools";\nconst x = await get();\nconsole.log(x);',
    tools,
  });
  strictEqual(typescript.type, "syntax_error");
  ok(
    typescript.stderr.endsWith(
      "Hint: this program looks like TypeScript, but the server ran it as Python. " +
        'Send it with "language": "typescript".\n',
    ),
    typescript.stderr,
  );

  // A plain syntax error in the right language gets no hint.
  const plain = await t.client.executeCode({ code: "const x = ;", tools });
  ok(!plain.stderr.includes("Hint:"), plain.stderr);
});

Deno.test("a server that cannot be reached: a ProgtcConnectionError naming the URL", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const baseUrl = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const client = new ProgtcClient({ baseUrl, apiKey: API_KEY });
  await rejects(client.executeCode({ code: "console.log(1)", tools }), (error) => {
    ok(error instanceof ProgtcConnectionError, String(error));
    strictEqual(error.url, `${baseUrl}/execute-code`);
    ok(error.message.startsWith(`Cannot reach the progtc server at ${baseUrl}/execute-code: `));
    return true;
  });
  await rejects(
    client.executeCodeStep({ code: "console.log(1)", toolNames: ["get"] }),
    (error) =>
      error instanceof ProgtcConnectionError && error.url === `${baseUrl}/execute-code-step`,
  );
});
