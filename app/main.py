"""Assembles the ASGI app: `app.main:app`, or `create_app(settings)` for one of your own."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import api
from app.assistants import Assistants
from app.auth import Access, authenticator
from app.checkpointers import open_checkpointing
from app.crons import Crons, keep_schedule
from app.dialects import agui, ai_sdk
from app.dialects.langgraph import create_langgraph_app
from app.dialects.langgraph import crons as langgraph_crons
from app.dialects.langgraph import webhook as langgraph_webhook
from app.dialects.langgraph.app import PREFIX as LANGGRAPH_PREFIX
from app.dialects.langgraph.mcp import serving as serving_mcp
from app.errors import HANDLERS
from app.graph_store import open_graph_store
from app.graphs import describe_graph, open_graphs
from app.logs import configure as configure_logging
from app.loop_watch import settle_startup_objects, watch_loop
from app.metrics import Metrics
from app.middleware import Configured
from app.runs import RunManager
from app.settings import Settings
from app.shutdown import drain_on_sigterm
from app.store import open_store
from app.threads import Threads
from app.tokens import StreamTokens
from app.ui_bundles import build_bundles
from app.webhooks import Webhooks
from app.writer import iso_now

# Start-up lines go where uvicorn's own go.
logger = logging.getLogger("uvicorn.error")


def _secret(settings: Settings) -> bytes:
    secret = settings.secret.get_secret_value()
    if secret:
        return secret.encode()
    if settings.auth != "none":
        logger.warning(
            "GATEWAY_SECRET is not set: stream tokens hold only for this process until it "
            "stops (set it, the same for every process, to share them)"
        )
    return secrets.token_bytes(32)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Without settings, they are read from the environment when the app starts, not before."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings()
        configure_logging(resolved.log_format)
        auth = authenticator(resolved)
        metrics = Metrics()
        served = await open_graphs(resolved.graph)
        graph = served.graphs[served.default].graph
        if served.project is not None:
            logger.info("serving %s: graphs %s", served.project.path, ", ".join(served.graphs))
            if served.project.not_honoured:
                logger.warning(
                    "%s: not honoured here: %s",
                    served.project.path.name,
                    "; ".join(served.project.not_honoured),
                )
        langgraph.state.ui = await build_bundles(served.ui(resolved.ui))
        async with contextlib.AsyncExitStack() as stack:
            remembering = await stack.enter_async_context(open_graph_store(graph, resolved))
            logger.info("graph store: %s", remembering.description)
            checkpointing = await stack.enter_async_context(
                open_checkpointing(remembering.graph, resolved)
            )
            logger.info("checkpointer: %s", checkpointing.description)
            store = open_store(resolved)
            store.instrument(metrics.store_retries.inc, metrics.store_errors.inc)
            stack.push_async_callback(store.close)
            graphs = served.sharing(remembering.store, checkpointing.saver).graphs
            manager = RunManager(checkpointing, store, resolved, metrics, graphs)
            manager.webhooks = Webhooks(
                resolved.webhook_allow_list(), langgraph_webhook.payload_for(manager.graph_for)
            )
            await manager.open()
            stack.push_async_callback(manager.close)
            stack.enter_context(drain_on_sigterm(manager.drain))
            threads = Threads(manager)
            tokens = StreamTokens(_secret(resolved), resolved.stream_token_seconds)
            access = Access(auth, tokens, metrics)
            for state in (app.state, langgraph.state):
                state.settings = resolved
                state.manager = manager
                state.threads = threads
                state.access = access
                state.metrics = metrics
                state.graph_store = remembering.store
            app.state.graph_descriptions = {
                graph_id: {**describe_graph(s.graph), "name": graph_id}
                for graph_id, s in graphs.items()
            }
            langgraph.state.graph_id = manager.default_graph
            langgraph.state.started_at = iso_now()
            langgraph.state.assistants = Assistants(store, list(graphs), langgraph.state.started_at)
            langgraph.state.crons = Crons(store)
            schedule = asyncio.create_task(
                keep_schedule(
                    langgraph.state.crons,
                    functools.partial(langgraph_crons.fire, langgraph.state),
                    resolved.cron_poll_seconds,
                    paused=lambda: manager.draining,
                    graph_ids=list(graphs),
                ),
                name="crons",
            )
            stack.callback(schedule.cancel)
            langgraph.state.mcp = await stack.enter_async_context(serving_mcp(resolved))
            watch = asyncio.create_task(
                watch_loop(metrics.loop_lag, metrics.gc_pauses), name="loop-watch"
            )
            stack.callback(watch.cancel)
            settle_startup_objects()
            yield

    app = FastAPI(title="LangGraph SSE gateway", lifespan=lifespan, exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.add_middleware(Configured)
    app.include_router(api.router)
    app.include_router(agui.router)
    app.include_router(ai_sdk.router)
    app.mount("/static", StaticFiles(directory=api.STATIC_DIR), name="static")
    langgraph = create_langgraph_app()
    app.mount(LANGGRAPH_PREFIX, langgraph, name="langgraph")
    return app


app = create_app()
