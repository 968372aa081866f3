"""Runs a session's programs one after another with the REAL Python client (AsyncProgtcClient),
which cannot read response headers nor send a body field, but sends the headers it is given:
`X-Progtc-Session: new:<ID>` opens the session under an id it chose, `X-Progtc-Session: <ID>`
runs the next programs in it. Prints one JSON line:

    {"progtc": "<version>", "results": [{"result": {...}} | {"error": {...}}, ...]}

Usage:

    python session_client.py python|typescript ID

BASE_URL and API_KEY come from $PROGTC_BASE_URL and $PROGTC_API_KEY.
"""

import importlib.metadata
import json
import os
import sys
import asyncio

from _common import error_json
from progtc import AsyncProgtcClient

PROGRAMS = {
    "python": [
        "from tools import add\nrows = [await add(i, 1) for i in range(3)]\n"
        "async def total():\n    return sum(rows) + await add(0, 100)\n",
        "from tools import add\nprint(rows, await total())\n",
        "rows = [0]\nprint(await total())\n",
    ],
    "typescript": [
        'import { add } from "tools";\nconst rows = [await add(0, 1), await add(1, 1)];\n'
        "async function total() { return rows.reduce((a, b) => a + b) + await add(0, 100); }\n",
        'import { add } from "tools";\nconsole.log(rows, await total());\n',
        "const rows = [0];\nconsole.log(await total());\n",
    ],
}


def main() -> int:
    language, session = sys.argv[1], sys.argv[2]
    client = AsyncProgtcClient(
        base_url=os.environ["PROGTC_BASE_URL"],
        api_key=os.environ["PROGTC_API_KEY"],
        headers={"X-Progtc-Language": language},
    )

    async def add(a, b):
        return a + b

    async def run() -> list:
        results = []
        for n, code in enumerate(PROGRAMS[language]):
            headers = {"X-Progtc-Session": f"new:{session}" if n == 0 else session}
            try:
                result = await client.execute_code(code=code, tools={"add": add}, headers=headers)
                results.append({"result": result.model_dump(mode="json")})
            except Exception as error:  # reported to the Deno test, which decides
                results.append({"error": error_json(error)})
        return results

    results = asyncio.run(run())
    print(json.dumps({"progtc": importlib.metadata.version("progtc"), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
