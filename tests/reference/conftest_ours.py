"""Our replacement of the reference's tests/conftest.py, loaded as a pytest plugin.

The reference's suites (progtc 0.1.17 and 0.2.0) run unchanged, from their unpacked sdist, with

    PYTHONPATH=tests/reference PROGTC_TEST_SERVER=<url> \
        python -m pytest --noconftest -p conftest_ours tests

`--noconftest` keeps the reference's conftest.py (which starts its own FastAPI app in process)
from loading; this plugin defines the two fixtures it defined, with the same names, scopes and
behaviour, except that `test_server` is the URL of an already running server:

- `test_server` (function scope): the base URL, from `PROGTC_TEST_SERVER`. With
  `PROGTC_TEST_SERVER=reference` it starts the reference app in process exactly like the
  reference's conftest does (the control run: the suite against its own server).
- `test_client` (function scope): an `httpx.AsyncClient` on `test_server` with the header
  `X-Progtc-API-Key: 1234567890` and httpx's default timeout (5 s), as in the reference.

Nothing else of the reference server is used by the test files: they import only
`progtc.client` (AsyncProgtcClient, _calculate_backoff) and `progtc.types` (MessageType,
DeterminismMode, ExecuteCodeStepToolCalls, ExecuteCodeSuccess).
"""

import asyncio
import os
from collections.abc import AsyncGenerator

import pytest_asyncio
from httpx import AsyncClient

API_KEY = "1234567890"  # the key the reference's tests send (its server's built-in default)


def _target() -> str:
    target = os.environ.get("PROGTC_TEST_SERVER", "").strip()
    if not target:
        raise RuntimeError(
            "PROGTC_TEST_SERVER is not set: give the base URL of a running server "
            "(deno run ... cli.ts serve --language python --api-key 1234567890), "
            "or 'reference' to start the reference app in process"
        )
    return target


@pytest_asyncio.fixture
async def test_server() -> AsyncGenerator[str, None]:
    target = _target()
    if target != "reference":
        yield target.rstrip("/")
        return
    # The control run: the reference's own fixture, verbatim in behaviour.
    import uvicorn
    from progtc.server.api import app

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest_asyncio.fixture
async def test_client(test_server: str) -> AsyncGenerator[AsyncClient, None]:
    async with AsyncClient(
        base_url=test_server,
        headers={"X-Progtc-API-Key": API_KEY},
    ) as client:
        yield client
