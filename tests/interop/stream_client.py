"""Runs one scenario of the reference progtc README quick start with the REAL Python client
(AsyncProgtcClient.execute_code) against a progtc server, and prints one JSON line:

    {"progtc": "<version>", "result": {...}, "result_class": "...", "events": [...],
     "elapsed_s": 1.2}

or, when the client raised, {"progtc": ..., "error": {"type": ..., "message": ..., "status": ...}}.

The programs are TypeScript (the default language of the Deno server); the tools are the README's
async Python functions. Usage:

    python stream_client.py SCENARIO [BASE_URL [API_KEY]]

BASE_URL and API_KEY default to $PROGTC_BASE_URL and $PROGTC_API_KEY.
"""

import asyncio
import importlib.metadata
import json
import sys
import time

from _common import error_json, parse_args
from progtc import AsyncProgtcClient

STARTED = time.monotonic()
EVENTS: list[dict] = []


def record(kind: str, **fields) -> None:
    EVENTS.append({"kind": kind, "t": round(time.monotonic() - STARTED, 3), **fields})


# The README's tools, unchanged in spirit: async functions running in this process.
async def get_weather(city: str, country: str) -> str:
    record("tool_start", tool="get_weather")
    await asyncio.sleep(0.2)
    record("tool_end", tool="get_weather")
    return f"Weather in {city}, {country}: Sunny, 22°C"


async def search_database(query: str) -> list[dict]:
    record("tool_start", tool="search_database")
    await asyncio.sleep(0.2)
    record("tool_end", tool="search_database")
    return [{"id": 1, "name": "Result"}]


async def slow_tool(seconds: float) -> str:
    record("tool_start", tool="slow_tool")
    await asyncio.sleep(seconds)
    record("tool_end", tool="slow_tool")
    return f"slept {seconds} s"


async def echo(value):
    return value


TOOLS = {"get_weather": get_weather, "search_database": search_database}

SCENARIOS = {
    # The README quick start, in TypeScript.
    "single": (
        """
import { get_weather } from "tools";

const weather = await get_weather("London", "UK");
console.log(`The weather is: ${weather}`);
""",
        TOOLS,
        {},
    ),
    # The README's asyncio.gather example, as Promise.all.
    "gather": (
        """
import { get_weather, search_database } from "tools";

const [weather, results] = await Promise.all([
  get_weather("Tokyo", "Japan"),
  search_database("hotels"),
]);
console.log(`Weather: ${weather}`);
console.log(`Results: ${JSON.stringify(results)}`);
""",
        TOOLS,
        {},
    ),
    # JSON values both ways: arguments from the program, results (None included) from Python.
    "json_values": (
        """
import { echo } from "tools";
const values = [null, true, 0, -1.5, 9007199254740991, "ü 😀 \\u0000 \\"q\\"", [1, { a: null }], {}];
console.log(JSON.stringify(await Promise.all(values.map((value) => echo(value)))));
""",
        {**TOOLS, "echo": echo},
        {},
    ),
    "syntax_error": (
        """
import { get_weather } from "tools";
const weather = await get_weather("London", "UK";
console.log(weather);
""",
        TOOLS,
        {},
    ),
    "runtime_error": (
        """
import { get_weather } from "tools";
const weather = await get_weather("London", "UK");
console.log(weather);
throw new Error("boom after the tool call");
""",
        TOOLS,
        {},
    ),
    # A 7 s tool with the client's httpx timeout at 5 s (httpx's own default): only keepalive
    # comments keep the event stream from timing out while the program waits.
    "long_tool": (
        """
import { slow_tool } from "tools";
console.log(await slow_tool(7));
""",
        {**TOOLS, "slow_tool": slow_tool},
        {"timeout": 5.0},
    ),
    # Tools slower than the server's tool-call timeout (run the server with 1 s): the program
    # sees TimeoutErrors and goes on. One late result arrives while the program still runs, the
    # other after it ended; neither may turn into an exception in the client.
    "late_result": (
        """
import { slow_tool } from "tools";
const outcomes = await Promise.allSettled([slow_tool(2), slow_tool(4)]);
console.log(outcomes.map((o) => o.status === "rejected" ? o.reason.name : o.value).join(" "));
await new Promise((resolve) => setTimeout(resolve, 2000));
console.log("after");
""",
        {**TOOLS, "slow_tool": slow_tool},
        {},
    ),
    # 200 KiB of output around a tool call: the reference deadlocked past ~64 KiB.
    "big_output": (
        """
import { get_weather } from "tools";
const line = "x".repeat(99);
for (let i = 0; i < 1024; i++) console.log(line);
const weather = await get_weather("Oslo", "Norway");
for (let i = 0; i < 1024; i++) console.log(line);
console.log(weather);
""",
        TOOLS,
        {},
    ),
}


async def main() -> int:
    args = parse_args(__doc__.split("\n\n")[0], SCENARIOS)
    scenario, base_url, api_key = args.scenario, args.base_url, args.api_key
    code, tools, options = SCENARIOS[scenario]

    client = AsyncProgtcClient(base_url=base_url, api_key=api_key)

    def on_event(event) -> None:
        record(event.type, tool_call=event.tool_call.model_dump(mode="json"))

    out: dict = {"progtc": importlib.metadata.version("progtc"), "scenario": scenario}
    try:
        await client.wait_for_server(timeout=10)
        result = await client.execute_code(
            code=code, tools=tools, event_handler=on_event, **options
        )
        out["result"] = result.model_dump(mode="json")
        out["result_class"] = type(result).__name__
    except Exception as error:  # reported to the Deno test, which decides
        out["error"] = error_json(error)
    out["events"] = EVENTS
    out["elapsed_s"] = round(time.monotonic() - STARTED, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
