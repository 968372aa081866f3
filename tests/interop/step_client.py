"""Runs the reference progtc README's step loop with the REAL Python client
(AsyncProgtcClient.execute_code_step until the answer is not ExecuteCodeStepToolCalls, tools run
with asyncio.gather) against a progtc server, and prints one JSON line:

    {"progtc": "<version>", "steps": [{"tool_calls": [...], "state_chars": 123}, ...],
     "result": {...}, "result_class": "...", "elapsed_s": 1.2}

or, when the client raised, the same with "error": {"type": ..., "message": ..., "status": ...}.

The programs are TypeScript (the default language of the Deno server). Usage:

    python step_client.py SCENARIO [BASE_URL [API_KEY]] [--determinism strict|order_only]

BASE_URL and API_KEY default to $PROGTC_BASE_URL and $PROGTC_API_KEY. --determinism needs
progtc 0.2.0.
"""

import asyncio
import importlib.metadata
import json
import sys
import time

from _common import error_json, parse_args
from progtc import AsyncProgtcClient
from progtc.types import ExecuteCodeStepToolCalls

STARTED = time.monotonic()
MAX_STEPS = 20


async def get_weather(city: str, country: str) -> str:
    return f"Weather in {city}, {country}: Sunny, 22°C"


async def search_database(query: str) -> list[dict]:
    return [{"id": 1, "name": f"Result for {query}"}]


TOOLS = {"get_weather": get_weather, "search_database": search_database}

SCENARIOS = {
    # The README's step example, in TypeScript.
    "readme": """
import { get_weather } from "tools";
const weather = await get_weather("London", "UK");
console.log(weather);
""",
    # Two sequential calls, then a Promise.all of two: three batches. Output printed before,
    # between and after the calls must appear once in the final stdout.
    "sequential_then_all": """
import { get_weather, search_database } from "tools";
console.log("start");
const london = await get_weather("London", "UK");
console.log(london);
const paris = await get_weather("Paris", "France");
console.log(paris);
const [hotels, museums] = await Promise.all([
  search_database("hotels"),
  search_database("museums"),
]);
console.log(JSON.stringify(hotels), JSON.stringify(museums));
""",
    # Arguments that differ on every run: only `determinism="order_only"` (0.2.0) accepts them
    # when the server replays.
    "random_args": """
import { get_weather } from "tools";
const first = await get_weather(`city-${Math.random()}`, "UK");
const second = await get_weather(`city-${Math.random()}`, "France");
console.log(first.startsWith("Weather in city-"), second.endsWith("France: Sunny, 22°C"));
""",
}


async def main() -> int:
    args = parse_args(__doc__.split("\n\n")[0], SCENARIOS, determinism=True)
    client = AsyncProgtcClient(base_url=args.base_url, api_key=args.api_key)
    code = SCENARIOS[args.scenario]
    options: dict = {}
    if args.determinism is not None:
        from progtc.types import DeterminismMode  # progtc 0.2.0 only

        options["determinism"] = DeterminismMode(args.determinism)

    out: dict = {"progtc": importlib.metadata.version("progtc"), "scenario": args.scenario}
    steps: list[dict] = []
    out["steps"] = steps
    try:
        # The README's loop.
        state = None
        tool_results = None
        while True:
            result = await client.execute_code_step(
                code=code,
                tool_names=list(TOOLS.keys()),
                state=state,
                tool_results=tool_results,
                **options,
            )
            if not isinstance(result, ExecuteCodeStepToolCalls):
                break
            steps.append(
                {
                    "tool_calls": [tc.model_dump(mode="json") for tc in result.tool_calls],
                    "state_chars": len(result.state),
                }
            )
            if len(steps) > MAX_STEPS:
                raise RuntimeError(f"No result after {MAX_STEPS} steps")
            state = result.state
            tool_results = await asyncio.gather(
                *(TOOLS[tc.tool_name](*tc.args, **tc.kwargs) for tc in result.tool_calls)
            )
        out["result"] = result.model_dump(mode="json")
        out["result_class"] = type(result).__name__
    except Exception as error:  # reported to the Deno test, which decides
        out["error"] = error_json(error)
    out["elapsed_s"] = round(time.monotonic() - STARTED, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
