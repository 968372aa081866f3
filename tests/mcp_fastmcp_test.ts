/**
 * examples/fastmcp_progtc.py: FastMCP's own CodeMode (PyPI `fastmcp`) with the progtc sandbox
 * provider, against a FastMCP server with three tools, on a real progtc server: a program with a
 * dataclass, the standard library and a failing tool it handles, and one that fails.
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { API_KEY, startServer } from "./_helpers.ts";
import { ensureMcpVenv } from "./interop/venv.ts";
import { ROOT } from "./_mcp.ts";

Deno.test("examples/fastmcp_progtc.py: FastMCP CodeMode runs its programs on progtc", async () => {
  const python = await ensureMcpVenv();
  await using t = await startServer({ pythonPoolSize: 1 });
  const output = await new Deno.Command(python, {
    args: ["examples/fastmcp_progtc.py"],
    cwd: ROOT,
    env: { PROGTC_URL: t.url, PROGTC_API_KEY: API_KEY, PYTHONDONTWRITEBYTECODE: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  strictEqual(output.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
  deepStrictEqual(report.tools, ["search", "get_schema", "execute"]);
  match(report.search, /price/);
  deepStrictEqual(report.result, {
    value: 12 * 2.5 + 0 * 10 + 5 * 4,
    mean_units: (12 + 0 + 5) / 3,
    failures: [
      "call_tool('reorder') failed: Error calling tool 'reorder': supplier of B-2 is closed today",
    ],
  });
  // The code's own frame, line and text; the wrapper's frames are not shown.
  match(
    report.error,
    /^runtime_error: Traceback \(most recent call last\):\n[\s\S]*File "<code>", line 1, in __progtc_main\n {4}1 \/ 0\n[\s\S]*ZeroDivisionError: division by zero$/,
  );
});
