/**
 * Pyodide's glue as the sandboxes load it (`sandbox/python/glue.ts`): the start no longer puts
 * every export of the main module in the dynamic-linking table, so what still looks symbols up
 * by name is tried here: ctypes finds a C function of the interpreter by `dlsym` and calls it
 * through a function pointer, and a Python callback goes through the function table and back.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { startServer } from "./_helpers.ts";

Deno.test("python: ctypes reaches the interpreter's symbols and calls back through the table", async () => {
  await using t = await startServer({ poolSize: 0, pythonPoolSize: 1 });
  const result = await t.client.executeCode({
    language: "python",
    code: `import ctypes, sys
version = ctypes.pythonapi.Py_GetVersion
version.restype = ctypes.c_char_p
print(version().decode().split()[0] == sys.version.split()[0])
ints = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
ctypes.pythonapi.qsort(ints, 5, ctypes.sizeof(ctypes.c_int), compare(lambda a, b: a[0] - b[0]))
print(list(ints))`,
    tools: {},
  });
  deepStrictEqual(result, { type: "success", stdout: "True\n[1, 2, 3, 4, 5]\n", stderr: "" });
});
