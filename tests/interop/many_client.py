"""Runs COUNT executions at once with the REAL Python client (AsyncProgtcClient), streaming
(execute_code) or step (the execute_code_step loop), each program calling the tool `add(i, 1)`
twice, and prints one JSON line:

    {"progtc": "<version>", "results": [{"i": 0, "result": {...}} | {"i": 0, "error": {...}}]}

Used through a load balancer (tests/haproxy_test.ts) and for the X-Progtc-Language header
(tests/language_header_test.ts). Usage:

    python many_client.py stream|step COUNT [--language-header NAME] [--tool-seconds S]
        [--mark-file PATH]

The programs are Python when NAME is python, else TypeScript. BASE_URL and API_KEY come from
$PROGTC_BASE_URL and $PROGTC_API_KEY.
"""

import argparse
import asyncio
import importlib.metadata
import json
import os

from _common import error_json
from progtc import AsyncProgtcClient
from progtc.types import ExecuteCodeStepToolCalls

PYTHON = "from tools import add\nx = await add({i}, 1)\ny = await add(x, 1)\nprint(x, y)\n"
TYPESCRIPT = (
    'import { add } from "tools";\n'
    "const x = await add({i}, 1);\nconst y = await add(x, 1);\nconsole.log(x, y);\n"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["stream", "step"])
    parser.add_argument("count", type=int)
    parser.add_argument("--language-header")
    parser.add_argument("--tool-seconds", type=float, default=0.0)
    parser.add_argument("--mark-file", help="append a line to this file at each tool call")
    args = parser.parse_args()
    headers = {"X-Progtc-Language": args.language_header} if args.language_header else {}
    client = AsyncProgtcClient(
        base_url=os.environ["PROGTC_BASE_URL"],
        api_key=os.environ["PROGTC_API_KEY"],
        headers=headers,
    )

    async def add(a, b):
        if args.mark_file:
            with open(args.mark_file, "a") as marks:
                marks.write(f"{a}\n")
        await asyncio.sleep(args.tool_seconds)
        return a + b

    template = PYTHON if args.language_header == "python" else TYPESCRIPT

    async def stream(i: int):
        return await client.execute_code(code=template.replace("{i}", str(i)), tools={"add": add})

    async def step(i: int):
        code = template.replace("{i}", str(i))
        state, tool_results = None, None
        for _ in range(10):
            result = await client.execute_code_step(
                code=code, tool_names=["add"], state=state, tool_results=tool_results
            )
            if not isinstance(result, ExecuteCodeStepToolCalls):
                return result
            state = result.state
            tool_results = await asyncio.gather(
                *(add(*tc.args, **tc.kwargs) for tc in result.tool_calls)
            )
        raise RuntimeError("No result after 10 steps")

    async def one(i: int) -> dict:
        try:
            result = await (stream(i) if args.mode == "stream" else step(i))
            return {"i": i, "result": result.model_dump(mode="json")}
        except Exception as error:  # reported to the Deno test, which decides
            return {"i": i, "error": error_json(error)}

    async def run() -> list:
        return await asyncio.gather(*(one(i) for i in range(args.count)))

    results = asyncio.run(run())
    print(json.dumps({"progtc": importlib.metadata.version("progtc"), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
