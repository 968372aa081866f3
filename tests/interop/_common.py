"""Helpers shared by the interop scripts: command-line arguments and error reports."""

import argparse
import os


def error_json(error: BaseException) -> dict:
    """An exception as JSON, with the HTTP status and body when it carries a response."""
    response = getattr(error, "response", None)
    status = None
    body = None
    try:
        if response is not None:
            status = response.status_code
            body = response.text[:500]
    except Exception:  # a streamed response whose body was not read
        pass
    return {
        "type": type(error).__name__,
        "message": str(error)[:1000],
        "status": status,
        "body": body,
    }


def parse_args(description: str, scenarios, determinism: bool = False) -> argparse.Namespace:
    """`SCENARIO [BASE_URL] [API_KEY]`, the last two defaulting to PROGTC_BASE_URL/_API_KEY."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("scenario", choices=scenarios)
    parser.add_argument("base_url", nargs="?", default=os.environ.get("PROGTC_BASE_URL"))
    parser.add_argument("api_key", nargs="?", default=os.environ.get("PROGTC_API_KEY"))
    if determinism:
        parser.add_argument("--determinism", choices=["strict", "order_only"])
    args = parser.parse_args()
    if not args.base_url or not args.api_key:
        parser.error("give BASE_URL and API_KEY, or set PROGTC_BASE_URL and PROGTC_API_KEY")
    return args
