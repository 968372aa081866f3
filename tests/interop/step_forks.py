"""Retries and forks of one step state with the REAL Python client (progtc 0.2.0's
AsyncProgtcClient.execute_code_step), against a progtc server; prints one JSON line:

    {"progtc": "<version>", "first": [...keys...], "retry_same": true,
     "finals": {"once": {...}, "again": {...}, "fork": {...}}, "elapsed_s": 1.2}

The program is Python (the server runs with --language python, or the state's language):
two gathered tasks, each calling `echo` twice.

    python step_forks.py forks [BASE_URL [API_KEY]]
"""

import asyncio
import importlib.metadata
import json
import time

from _common import error_json, parse_args
from progtc import AsyncProgtcClient
from progtc.types import ExecuteCodeStepToolCalls

STARTED = time.monotonic()

CODE = """
import asyncio
from tools import echo

async def flow(i):
    a = await echo(i, "a")
    b = await echo(i, "b", a)
    return f"{i}:{a}:{b}"

print(await asyncio.gather(flow(0), flow(1)))
"""


async def finish(client, state, results):
    step = await client.execute_code_step(CODE, tool_names=["echo"], state=state, tool_results=results)
    while isinstance(step, ExecuteCodeStepToolCalls):
        answers = ["-".join(map(str, tc.args)) for tc in step.tool_calls]
        step = await client.execute_code_step(
            CODE, tool_names=["echo"], state=step.state, tool_results=answers
        )
    return step.model_dump()


async def main() -> None:
    args = parse_args(__doc__, ["forks"])
    report = {"progtc": importlib.metadata.version("progtc"), "scenario": args.scenario}
    try:
        client = AsyncProgtcClient(base_url=args.base_url, api_key=args.api_key)
        first = await client.execute_code_step(CODE, tool_names=["echo"])
        assert isinstance(first, ExecuteCodeStepToolCalls), first
        report["first"] = [tc.call_key for tc in first.tool_calls]
        same = ["x", "y"]
        once = await client.execute_code_step(
            CODE, tool_names=["echo"], state=first.state, tool_results=same
        )
        again = await client.execute_code_step(
            CODE, tool_names=["echo"], state=first.state, tool_results=same
        )
        report["retry_same"] = [(tc.call_key, tc.args) for tc in once.tool_calls] == [
            (tc.call_key, tc.args) for tc in again.tool_calls
        ]
        report["second"] = [tc.call_key for tc in once.tool_calls]
        report["finals"] = {
            "once": await finish(client, once.state, ["1", "2"]),
            "again": await finish(client, again.state, ["1", "2"]),
            "fork": await finish(client, first.state, ["X", "Y"]),
        }
    except Exception as error:  # noqa: BLE001 - the report carries it
        report["error"] = error_json(error)
    report["elapsed_s"] = round(time.monotonic() - STARTED, 3)
    print(json.dumps(report))


asyncio.run(main())
