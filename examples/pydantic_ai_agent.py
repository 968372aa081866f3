"""A pydantic-ai agent whose model writes one Python program that calls the agent's tools, run
on a progtc server through the reference Python client (`pip install progtc pydantic-ai-slim`).

The model is scripted (pydantic-ai's `FunctionModel`), so this runs without an LLM. The tools'
declarations for the system prompt come from `describeTools(tools, { language: "python" })` of
the TypeScript client (`examples/python_tool_docs.ts` prints them); the server runs Python
(`deno task serve --language python`, or send the `X-Progtc-Language: python` header).

    export PROGTC_URL=http://127.0.0.1:8000 PROGTC_API_KEY=your-secret-key
    deno run examples/python_tool_docs.ts > tool_docs.txt
    PROGTC_TOOL_DOCS=tool_docs.txt python examples/pydantic_ai_agent.py
"""

import asyncio
import json
import os

from progtc import AsyncProgtcClient
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

PROGTC = AsyncProgtcClient(
    base_url=os.environ.get("PROGTC_URL", "http://127.0.0.1:8000"),
    api_key=os.environ.get("PROGTC_API_KEY", "your-secret-key"),
)

TEMPERATURES = {"Paris": 18, "Rome": 24, "Oslo": 9}


async def get_weather(city: str) -> dict:
    return {"city": city, "celsius": TEMPERATURES.get(city, 15)}


async def search_hotels(city: str, limit: int = 3) -> list[str]:
    return [f"{city} Hotel {i + 1}" for i in range(limit)]


# The program the scripted model writes, having read the declarations.
PROGRAM = """\
import asyncio
from tools import get_weather, search_hotels
weather = await asyncio.gather(*(get_weather(city=c) for c in ["Paris", "Rome", "Oslo"]))
warmest = max(weather, key=lambda w: w["celsius"])
hotels = await search_hotels(city=warmest["city"], limit=1)
print(f"warmest: {warmest['city']} ({warmest['celsius']} °C), stay at {hotels[0]}")
"""

seen: dict[str, str] = {}


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    returned = [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]
    if not returned:
        seen["instructions"] = info.instructions or ""
        seen["tool"] = info.function_tools[0].description or ""
        return ModelResponse(parts=[ToolCallPart("run_program", {"code": PROGRAM})])
    result = returned[-1].content
    return ModelResponse(parts=[TextPart(f"From the program: {result['stdout'].strip()}")])


def tool_docs() -> str:
    path = os.environ.get("PROGTC_TOOL_DOCS")
    if path:
        with open(path, encoding="utf-8") as file:
            return file.read()
    return "Write a Python program; import get_weather and search_hotels from tools."


agent = Agent(FunctionModel(scripted), instructions=tool_docs())


@agent.tool_plain
async def run_program(code: str) -> dict:
    """Runs a Python program that imports its tools from `tools`; returns what it printed."""
    result = await PROGTC.execute_code(
        code=code, tools={"get_weather": get_weather, "search_hotels": search_hotels}
    )
    return {"type": str(result.type), "stdout": result.stdout, "stderr": result.stderr}


async def main() -> None:
    answer = await agent.run("Which of Paris, Rome and Oslo is warmest, and where do I stay?")
    print(json.dumps({"answer": answer.output, "instructions": seen.get("instructions", "")}))


if __name__ == "__main__":
    asyncio.run(main())
