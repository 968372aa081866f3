"""A FastMCP `SandboxProvider` that runs CodeMode's programs on a progtc server, through the
reference Python client (`pip install progtc fastmcp`): full Python with its standard library
(classes, dataclasses, `json`, `statistics`, ...) in a real sandbox, instead of Monty's subset.

FastMCP's CodeMode gives the model an `execute` tool whose program calls `await call_tool(name,
params)` and ends with `return`. `ProgtcSandboxProvider.run` sends that program to progtc as a
Python program whose tools are CodeMode's external functions: progtc runs it in its sandbox and
routes each `call_tool` back here, where FastMCP runs the tool. The reference client cannot send a
failure back, so every function answers `{"ok": ..., "value" | "error"}` and the program's
prelude raises `ToolError` for a failure; the program's value comes back through one more tool.

    export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
    python examples/fastmcp_progtc.py   # a FastMCP server with three tools, in CodeMode

Run as a script, it builds a FastMCP server with a few tools in CodeMode on progtc, connects
FastMCP's own client to it, and prints what it answered as JSON.
"""

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from fastmcp.exceptions import ToolError
from progtc import AsyncProgtcClient

RESULT_TOOL = "__progtc_result"

# Runs in the sandbox (exec'd, so its frames are not the program's): CodeMode's code becomes the
# body of an async function (so `return` and `await` work), compiled as `<code>` with its own
# line numbers and text in tracebacks; its last bare expression is its value; each external
# function raises ToolError for a failure.
PRELUDE = """\
import ast as __ast, json as __json, linecache as __linecache, tools as __tools
ToolError = getattr(__tools, "ToolError", None) or type("ToolError", (Exception,), {})

def __progtc_function(name):
    raw = getattr(__tools, name)
    async def call(*args, **kwargs):
        answer = await raw(*args, **kwargs)
        if not answer["ok"]:
            raise ToolError(answer["error"])
        return answer["value"]
    call.__name__ = name
    return call

def __progtc_setup(functions, inputs):
    for name in functions:
        globals()[name] = __progtc_function(name)
    globals().update(__json.loads(inputs))

def __progtc_compile(source):
    tree = __ast.parse(source, "<code>")
    if tree.body and isinstance(tree.body[-1], __ast.Expr):
        last = tree.body[-1]
        tree.body[-1] = __ast.copy_location(__ast.Return(value=last.value), last)
    main = __ast.AsyncFunctionDef(
        name="__progtc_main", args=__ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
        kw_defaults=[], defaults=[]), body=tree.body or [__ast.Pass()], decorator_list=[],
        returns=None, type_params=[])
    module = __ast.fix_missing_locations(__ast.Module(body=[main], type_ignores=[]))
    __linecache.cache["<code>"] = (len(source), None, source.splitlines(True), "<code>")
    exec(compile(module, "<code>", "exec"), globals())
    return globals()["__progtc_main"]
"""


def program_of(code: str, inputs: dict[str, Any], functions: list[str]) -> str:
    """The progtc program (one line) that runs CodeMode's `code` with `inputs`, `functions`."""
    return (
        f"exec({PRELUDE!r}); __progtc_setup({functions!r}, {json.dumps(inputs)!r}); "
        f"await __tools.{RESULT_TOOL}(await __progtc_compile({code!r})())"
    )


def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
    """An external function as a progtc tool: failures become an answer, not an exception."""

    async def tool(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            value = function(*args, **kwargs)
            if asyncio.iscoroutine(value):
                value = await value
            return {"ok": True, "value": value}
        except Exception as error:  # the program raises it as ToolError
            return {"ok": False, "error": str(error)}

    return tool


class ProgtcSandboxProvider:
    """FastMCP CodeMode's `SandboxProvider` on a progtc server (of either implementation)."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0) -> None:
        # progtc for Deno runs TypeScript by default: ask for Python (the reference's server
        # ignores the header and runs Python).
        self._client = AsyncProgtcClient(
            base_url=base_url, api_key=api_key, headers={"X-Progtc-Language": "python"}
        )
        self._timeout = timeout

    async def run(
        self,
        code: str,
        *,
        inputs: dict[str, Any] | None = None,
        external_functions: dict[str, Callable[..., Any]] | None = None,
    ) -> Any:
        functions = external_functions or {}
        returned: list[Any] = []

        async def result(value: Any) -> None:
            returned.append(value)

        tools = {name: wrap(function) for name, function in functions.items()}
        tools[RESULT_TOOL] = result
        answer = await self._client.execute_code(
            code=program_of(code, inputs or {}, list(functions)),
            tools=tools,
            timeout=self._timeout,
        )
        if answer.type != "success":
            raise ToolError(f"{answer.type}: {answer.stderr.strip() or answer.stdout.strip()}")
        value = returned[0] if returned else None
        # A program that printed and returned nothing answers what it printed.
        return answer.stdout if value is None and answer.stdout else value


async def main() -> None:
    from fastmcp import Client, FastMCP
    from fastmcp.experimental.transforms.code_mode import CodeMode

    server = FastMCP("inventory")

    @server.tool
    def stock(sku: str) -> dict:
        """Units in stock of a product."""
        return {"sku": sku, "units": {"A-1": 12, "B-2": 0, "C-3": 5}.get(sku, 0)}

    @server.tool
    def price(sku: str) -> dict:
        """Price of one unit of a product, in euros."""
        return {"sku": sku, "euros": {"A-1": 2.5, "B-2": 10.0, "C-3": 4.0}[sku]}

    @server.tool
    def reorder(sku: str, units: int) -> str:
        """Orders more units of a product."""
        raise ValueError(f"supplier of {sku} is closed today")

    provider = ProgtcSandboxProvider(os.environ["PROGTC_URL"], os.environ["PROGTC_API_KEY"])
    server.add_transform(CodeMode(sandbox_provider=provider))

    # What a model would write: classes, the standard library, and a failing tool handled.
    program = """
import statistics
from dataclasses import dataclass

@dataclass
class Line:
    sku: str
    units: int
    price: float

    @property
    def value(self):
        return self.units * self.price

lines = []
for sku in ["A-1", "B-2", "C-3"]:
    level = await call_tool("stock", {"sku": sku})
    cost = await call_tool("price", {"sku": sku})
    lines.append(Line(sku, level["units"], cost["euros"]))
failures = []
for line in lines:
    if line.units == 0:
        try:
            await call_tool("reorder", {"sku": line.sku, "units": 10})
        except ToolError as error:
            failures.append(str(error))
return {
    "value": sum(line.value for line in lines),
    "mean_units": statistics.mean(line.units for line in lines),
    "failures": failures,
}
"""
    async with Client(server) as client:
        listed = [tool.name for tool in await client.list_tools()]
        found = await client.call_tool("search", {"query": "price"})
        ran = await client.call_tool("execute", {"code": program})
        failed = await client.call_tool("execute", {"code": "1 / 0"}, raise_on_error=False)
    print(
        json.dumps(
            {
                "tools": listed,
                "search": found.content[0].text,
                "result": ran.structured_content or ran.content[0].text,
                "error": failed.content[0].text,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
