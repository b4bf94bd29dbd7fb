"""`python -m app serve [package.module:attr] [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn
from langgraph.pregel import Pregel
from pydantic import ValidationError

from app.checkpointers import CheckpointerConfigError, check_checkpointer, open_checkpointing
from app.graphs import GraphLoadError, load_graph
from app.main import create_app
from app.settings import Settings
from app.store import StoreConfigError, open_store
from app.store.base import StoreUnavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a graph over SSE")
    serve.add_argument(
        "graph", nargs="?", help="package.module:attr (default: GATEWAY_GRAPH, else the demo graph)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    try:
        settings = Settings(**({"graph": args.graph} if args.graph else {}))
        # Fail here, in one line, rather than inside the server's start-up traceback.
        graph = load_graph(settings.graph)
        asyncio.run(_check_services(graph, settings))
    except (GraphLoadError, StoreConfigError, StoreUnavailable, CheckpointerConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(
            f"error: invalid configuration: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds + 3,
    )
    return 0


async def _check_services(graph: Pregel, settings: Settings) -> None:
    check_checkpointer(settings)
    store = open_store(settings)
    try:
        await store.ping()
    finally:
        await store.close()
    async with open_checkpointing(graph, settings):
        pass
