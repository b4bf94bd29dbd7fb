"""`python -m app serve [package.module:attr | langgraph.json] [--host H] [--port P]
[--workers N] [--loop L]`, `python -m app build-ui`."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.auth import AuthConfigError, authenticator
from app.checkpointers import CheckpointerConfigError, check_checkpointer, open_checkpointing
from app.graph_store import GraphStoreConfigError, check_graph_store, open_graph_store
from app.graphs import GraphLoadError, open_graphs
from app.graphs.project import ProjectError, is_project, read_project
from app.logs import configure as configure_logging
from app.main import create_app
from app.server import protocol_for
from app.settings import Settings
from app.store import StoreConfigError, open_store
from app.store.base import StoreUnavailable
from app.ui_bundles import UiBuildError, build_bundles


def exposed_without_auth(host: str, settings: Settings) -> str | None:
    """What to warn of when the gateway listens beyond this machine with no auth."""
    if settings.auth != "none" or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"serving {host} with GATEWAY_AUTH=none: anyone who can reach it can start, read "
        "and cancel runs (set GATEWAY_AUTH=api-keys)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a graph over SSE")
    serve.add_argument(
        "graph",
        nargs="?",
        help="package.module:attr, or a LangGraph project's langgraph.json (default: "
        "GATEWAY_GRAPH, else the demo graph)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (needs a Redis store)"
    )
    serve.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="event loop (auto: uvloop, installed with the gateway)",
    )
    build_ui = commands.add_parser(
        "build-ui",
        help="bundle GATEWAY_UI's modules (and a langgraph.json's `ui`) into .ui-bundles/ "
        "(a start then needs no Node.js)",
    )
    build_ui.add_argument("graph", nargs="?", help="a langgraph.json (default: GATEWAY_GRAPH)")
    args = parser.parse_args(argv)
    if args.command == "build-ui":
        return _build_ui(args.graph)

    try:
        settings = Settings(**({"graph": args.graph} if args.graph else {}))
        if args.workers > 1 and not settings.store_url.startswith(("redis", "unix")):
            raise StoreConfigError(
                "--workers needs a store the processes share: set GATEWAY_STORE_URL=redis://..."
            )
        # Fail here, in one line, rather than inside the server's start-up traceback.
        authenticator(settings)
        asyncio.run(_check_services(settings))
    except (
        AuthConfigError,
        GraphLoadError,
        StoreConfigError,
        StoreUnavailable,
        CheckpointerConfigError,
        GraphStoreConfigError,
        UiBuildError,
        SettingsError,  # a value that cannot be read at all (GATEWAY_UI that is not JSON)
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(
            f"error: invalid configuration: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_format, args.log_level)
    warning = exposed_without_auth(args.host, settings)
    if warning:
        logging.getLogger("app").warning(warning)
    if args.workers > 1:
        # Each worker process builds its app from the environment, this one's graph included.
        os.environ["GATEWAY_GRAPH"] = settings.graph
        app: FastAPI | str = "app.main:app"
    else:
        app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=args.workers if args.workers > 1 else None,
        http=protocol_for(settings),
        loop=args.loop,
        log_config=None,  # configured above, tokens masked, as text or JSON
        log_level=args.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds + 3,
    )
    return 0


def _build_ui(graph: str | None) -> int:
    try:
        settings = Settings(**({"graph": graph} if graph else {}))
        project = read_project(settings.graph).ui if is_project(settings.graph) else {}
        bundles = asyncio.run(build_bundles({**project, **settings.ui}))
    except (UiBuildError, SettingsError, ProjectError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: invalid configuration: {exc.errors()[0]['loc']}", file=sys.stderr)
        return 2
    for graph_id, bundle in bundles.items():
        print(f"{graph_id}: {', '.join(sorted(bundle.files))}")
    return 0


async def _check_services(settings: Settings) -> None:
    served = await open_graphs(settings.graph)
    graph = served.graphs[served.default].graph
    # Bundled here once (and cached): the server's processes then find the bundles built.
    await build_bundles(served.ui(settings.ui))
    check_checkpointer(settings)
    check_graph_store(settings)
    store = open_store(settings)
    try:
        await store.ping()
    finally:
        await store.close()
    async with open_graph_store(graph, settings), open_checkpointing(graph, settings):
        pass
