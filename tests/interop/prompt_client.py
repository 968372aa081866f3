"""Runs programs with the REAL reference Python client (AsyncProgtcClient.execute_code), each as
a model would write it after reading `describeTools(tools, { client: "reference" })`, and prints
one JSON line:

    {"progtc": "<version>", "scenario": "<language>", "results": [{"i": 0, "result": {...}},
     {"i": 1, "error": {"type": ..., "message": ...}}, ...], "elapsed_s": 1.2}

The tools are Python functions of this process, the shapes `describeTools` was given: a tool
with an object input (`get_weather`, keyword arguments), plain functions (`add(a, b)`, `fail()`,
`meet(name)`). Usage:

    python prompt_client.py LANGUAGE PROGRAMS_JSON [BASE_URL [API_KEY]]

LANGUAGE is `python` or `typescript` (sent as `X-Progtc-Language`); PROGRAMS_JSON a JSON list
of programs. BASE_URL and API_KEY default to $PROGTC_BASE_URL and $PROGTC_API_KEY.
"""

import asyncio
import importlib.metadata
import json
import os
import sys
import time

from _common import error_json
from progtc import AsyncProgtcClient

STARTED = time.monotonic()


async def get_weather(city: str) -> dict:
    return {"city": city, "celsius": 21}


async def add(a, b):
    return a + b


async def fail():
    raise RuntimeError("the service is down")


def barrier():
    """`meet(name)` returns once two calls have arrived: only calls that run at once pass."""
    arrived: set[str] = set()
    both = asyncio.Event()

    async def meet(name: str) -> str:
        arrived.add(name)
        if len(arrived) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)
        return name

    return meet


async def main() -> None:
    language, programs = sys.argv[1], json.loads(sys.argv[2])
    base_url = sys.argv[3] if len(sys.argv) > 3 else os.environ["PROGTC_BASE_URL"]
    api_key = sys.argv[4] if len(sys.argv) > 4 else os.environ["PROGTC_API_KEY"]
    client = AsyncProgtcClient(
        base_url=base_url, api_key=api_key, headers={"X-Progtc-Language": language}
    )
    results = []
    for i, code in enumerate(programs):
        tools = {"get_weather": get_weather, "add": add, "fail": fail, "meet": barrier()}
        try:
            result = await client.execute_code(code=code, tools=tools)
            results.append({"i": i, "result": result.model_dump(mode="json")})
        except Exception as error:  # what the agent's process sees
            results.append({"i": i, "error": error_json(error)})
    print(
        json.dumps(
            {
                "progtc": importlib.metadata.version("progtc"),
                "scenario": language,
                "results": results,
                "elapsed_s": round(time.monotonic() - STARTED, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
