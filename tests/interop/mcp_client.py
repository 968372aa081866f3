"""The Python `mcp` SDK's client, remote-controlled by tests/mcp_python_test.ts.

It launches `progtc mcp` over stdio (the command line is its arguments) and connects with
`mcp.Client`, then reads commands from stdin and writes events to stdout, one JSON object per
line, so the Deno test runs the same scenarios with this client as with the TypeScript one:

- `{"op": "list"}` → `{"op": "listed", "tools": [{"name", "description", "inputSchema"}]}`
- `{"op": "call", "id", "name", "arguments", "progress"}` → `{"op": "progress", "id", "message"}`
  while it runs (when asked), then `{"op": "result", "id", "content", "isError"}` or
  `{"op": "error", "id", "message"}`
- `{"op": "cancel", "id"}`: cancels that call's task (the SDK sends `notifications/cancelled`)
- the client's elicitation callback sends `{"op": "elicit", "eid", "message"}` and waits for
  `{"op": "answer", "eid", "action"}`.

It prints `{"op": "ready", "pid"}` once connected (the pid of `progtc mcp`).
"""

import asyncio
import json
import sys

import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters


def schema_of(tool):
    """A tool's input schema (mcp 2 names it `input_schema`, mcp 1 `inputSchema`)."""
    schema = getattr(tool, "input_schema", None)
    return schema if schema is not None else getattr(tool, "inputSchema", None)


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def main():
    loop = asyncio.get_running_loop()
    answers = {}
    next_eid = 0

    async def elicit(context, params):
        nonlocal next_eid
        next_eid += 1
        eid = next_eid
        answers[eid] = loop.create_future()
        emit({"op": "elicit", "eid": eid, "message": params.message})
        try:
            return types.ElicitResult(action=await answers[eid])
        finally:
            del answers[eid]

    server = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:])
    async with Client(server, elicitation_callback=elicit) as client:
        emit({"op": "ready"})
        calls = {}

        async def call(command):
            cid = command["id"]

            async def progress(value, total, message):
                emit({"op": "progress", "id": cid, "message": message})

            try:
                result = await client.call_tool(
                    command["name"],
                    command.get("arguments") or {},
                    progress_callback=progress if command.get("progress") else None,
                )
                content = [block.model_dump(mode="json") for block in result.content]
                emit({"op": "result", "id": cid, "content": content, "isError": result.is_error})
            except asyncio.CancelledError:
                emit({"op": "error", "id": cid, "message": "cancelled"})
            except Exception as error:  # the test asserts on what failed
                emit({"op": "error", "id": cid, "message": f"{type(error).__name__}: {error}"})
            finally:
                calls.pop(cid, None)

        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "list":
                listed = await client.list_tools()
                tools = [
                    {"name": t.name, "description": t.description, "inputSchema": schema_of(t)}
                    for t in listed.tools
                ]
                emit({"op": "listed", "tools": tools})
            elif op == "call":
                calls[command["id"]] = asyncio.create_task(call(command))
            elif op == "cancel":
                task = calls.get(command["id"])
                if task:
                    task.cancel()
            elif op == "answer":
                answers[command["eid"]].set_result(command["action"])
            elif op == "close":
                break
        for task in list(calls.values()):
            task.cancel()


asyncio.run(main())
