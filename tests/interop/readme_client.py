"""Runs the reference progtc README's Python examples, UNCHANGED, with the REAL Python client
against a progtc server whose default language is Python (`progtc serve --language python`),
and prints one JSON line:

    {"progtc": "<version>", "scenario": "...", "printed": "<what the README's code printed>",
     "result": {...}, "result_class": "...", "steps": [...], "elapsed_s": 1.2}

or, when the client raised, the same with "error": {"type": ..., "message": ..., "status": ...}.

Each scenario is a README snippet as published (progtc 0.2.0's README; 0.1.17's differs only
in how one line is wrapped), with two changes only: `base_url` and `api_key` point at the server
under test. The programs that the README leaves without tools get small tools of our own, and
the two failing programs are ours. Usage:

    python readme_client.py SCENARIO [BASE_URL [API_KEY]]

BASE_URL and API_KEY default to $PROGTC_BASE_URL and $PROGTC_API_KEY.
"""

import asyncio
import contextlib
import importlib.metadata
import io
import json
import sys
import time

from _common import error_json, parse_args
from progtc import AsyncProgtcClient
from progtc.types import ExecuteCodeStepToolCalls, MessageType

STARTED = time.monotonic()
BASE_URL = ""
API_KEY = ""
STEPS: list[dict] = []


def recording_steps(client: AsyncProgtcClient) -> AsyncProgtcClient:
    """Records each batch of tool calls without touching the README's loop."""
    original = client.execute_code_step

    async def execute_code_step(*args, **kwargs):
        result = await original(*args, **kwargs)
        if isinstance(result, ExecuteCodeStepToolCalls):
            STEPS.append(
                {
                    "tool_calls": [tc.model_dump(mode="json") for tc in result.tool_calls],
                    "state_chars": len(result.state),
                }
            )
        return result

    client.execute_code_step = execute_code_step
    return client


def handle_errors(result) -> None:
    """The README's "Error Handling" section, unchanged."""
    match result.type:
        case MessageType.SUCCESS:
            print(f"Stdout: {result.stdout}")
        case MessageType.SYNTAX_ERROR:
            print(f"Syntax error: {result.stderr}")
        case MessageType.RUNTIME_ERROR:
            print(f"Runtime error: {result.stderr}")
        case MessageType.TIMEOUT_ERROR:
            print(f"Timeout: {result.stderr}")


# ─── Quick Start, "2. Execute Code from Your Client" ──────────────────────────────────────────


async def quick_start():
    client = AsyncProgtcClient(
        base_url=BASE_URL,
        api_key=API_KEY,
    )

    # Define your tools as async functions
    async def get_weather(city: str, country: str) -> str:
        # Your actual implementation
        return f"Weather in {city}, {country}: Sunny, 22°C"

    async def search_database(query: str) -> list[dict]:
        # Your actual implementation
        return [{"id": 1, "name": "Result"}]

    # Execute LLM-generated code that uses your tools
    code = """
from tools import get_weather

weather = await get_weather("London", "UK")
print(f"The weather is: {weather}")
"""

    result = await client.execute_code(
        code=code,
        tools={
            "get_weather": get_weather,
            "search_database": search_database,
        },
    )

    print(result.stdout)  # "The weather is: Weather in London, UK: Sunny, 22°C"
    print(result.stderr)  # ""
    return result


# ─── Code Guidelines ──────────────────────────────────────────────────────────────────────────


def readme_tools() -> dict:
    async def get_weather(city: str, country: str) -> str:
        return f"Weather in {city}, {country}: Sunny, 22°C"

    async def search_database(query: str) -> list[dict]:
        return [{"id": 1, "name": "Result"}]

    # Tools the README's snippets use without defining them.
    async def my_tool() -> None:
        return None

    async def tool_a() -> dict:
        return {"city": "Oslo", "temperatures": [3, 5, 4]}

    async def tool_b(a: dict) -> str:
        return f"{a['city']}: max {max(a['temperatures'])}°C"

    return {
        "get_weather": get_weather,
        "search_database": search_database,
        "my_tool": my_tool,
        "tool_a": tool_a,
        "tool_b": tool_b,
    }


GUIDELINE_AWAIT = """from tools import my_tool

await my_tool()
"""

GUIDELINE_PRINT = """from tools import tool_a, tool_b

a = await tool_a()
b = await tool_b(a)
print(b)
"""

GUIDELINE_GATHER = """import asyncio
from tools import get_weather, search_database

# Call tools like regular async functions
weather, results = await asyncio.gather(
    get_weather("Tokyo", "Japan"),
    search_database("hotels"),
)

print(f"Weather: {weather}")
print(f"Results: {results}")
"""

# Not in the README: a program that does not parse, and one that raises after a tool call.
SYNTAX_ERROR = """from tools import get_weather

weather = await get_weather("London", "UK"
print(weather)
"""

RUNTIME_ERROR = """from tools import get_weather

weather = await get_weather("London", "UK")
print(weather)
raise ValueError(f"no umbrella needed: {weather}")
"""


def guideline(code: str):
    async def run():
        client = AsyncProgtcClient(base_url=BASE_URL, api_key=API_KEY)
        tools = readme_tools()
        result = await client.execute_code(code, tools)
        handle_errors(result)
        return result

    return run


# ─── Client Modules (progtc 0.2.0) ────────────────────────────────────────────────────────────


async def client_modules():
    client = AsyncProgtcClient(base_url=BASE_URL, api_key=API_KEY)

    async def get_weather(city: str) -> str:
        return f"Weather in {city}: Sunny"

    tools = {"get_weather": get_weather}

    helpers = """
import tools

async def shout_weather(city):
    weather = await tools.get_weather(city=city)
    return weather.upper()
"""

    code = """
from helpers import shout_weather
print(await shout_weather("Tokyo"))
"""

    result = await client.execute_code(code, tools, modules={"helpers": helpers})
    handle_errors(result)
    return result


# ─── Step-Based Execution, "Example" ──────────────────────────────────────────────────────────


def step_example(code: str | None = None):
    async def run():
        client = recording_steps(
            AsyncProgtcClient(
                base_url=BASE_URL,
                api_key=API_KEY,
            )
        )

        # Define your tools as async functions
        async def get_weather(city: str, country: str) -> str:
            # Your actual implementation
            return f"Weather in {city}, {country}: Sunny, 22°C"

        async def search_database(query: str) -> list[dict]:
            return [{"id": 1, "name": "Result"}]

        tools = {
            "get_weather": get_weather,
        }
        if code is not None:
            tools["search_database"] = search_database

        # Execute LLM-generated code that uses your tools
        readme_code = """
from tools import get_weather
weather = await get_weather("London", "UK")
print(weather)
"""

        # Step through execution
        state = None
        tool_results = None

        while True:
            result = await client.execute_code_step(
                code=code if code is not None else readme_code,
                tool_names=list(tools.keys()),
                state=state,
                tool_results=tool_results,
            )
            if not isinstance(result, ExecuteCodeStepToolCalls):
                break

            # Execute the requested tools concurrently
            state = result.state
            tool_results = await asyncio.gather(
                *(tools[tc.tool_name](*tc.args, **tc.kwargs) for tc in result.tool_calls)
            )

        print(result.stdout)  # "Weather in London, UK: Sunny, 22°C"
        return result

    return run


SCENARIOS = {
    "quick_start": quick_start,
    "await_tool": guideline(GUIDELINE_AWAIT),
    "print_variables": guideline(GUIDELINE_PRINT),
    "gather": guideline(GUIDELINE_GATHER),
    "syntax_error": guideline(SYNTAX_ERROR),
    "runtime_error": guideline(RUNTIME_ERROR),
    "client_modules": client_modules,
    "step_loop": step_example(),
    "step_gather": step_example(GUIDELINE_GATHER),
    "step_runtime_error": step_example(RUNTIME_ERROR),
}


async def main() -> int:
    global BASE_URL, API_KEY
    args = parse_args(__doc__.split("\n\n")[0], SCENARIOS)
    BASE_URL, API_KEY = args.base_url, args.api_key
    out: dict = {"progtc": importlib.metadata.version("progtc"), "scenario": args.scenario}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            result = await SCENARIOS[args.scenario]()
        out["result"] = result.model_dump(mode="json")
        out["result_class"] = type(result).__name__
    except Exception as error:  # reported to the Deno test, which decides
        out["error"] = error_json(error)
    out["printed"] = printed.getvalue()
    out["steps"] = STEPS
    out["elapsed_s"] = round(time.monotonic() - STARTED, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
