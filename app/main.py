"""Assembles the ASGI app: `app.main:app`, or `create_app(settings)` for one of your own."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import api
from app.checkpointers import open_checkpointing
from app.dialects.langgraph import create_langgraph_app
from app.dialects.langgraph.app import PREFIX as LANGGRAPH_PREFIX
from app.errors import HANDLERS
from app.graphs import describe_graph, load_graph
from app.middleware import Configured
from app.runs import RunManager
from app.settings import Settings
from app.store import open_store
from app.threads import Threads
from app.writer import iso_now

# Start-up lines go where uvicorn's own go.
logger = logging.getLogger("uvicorn.error")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Without settings, they are read from the environment when the app starts, not before."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings()
        graph = load_graph(resolved.graph)
        async with contextlib.AsyncExitStack() as stack:
            checkpointing = await stack.enter_async_context(open_checkpointing(graph, resolved))
            logger.info("checkpointer: %s", checkpointing.description)
            store = open_store(resolved)
            stack.push_async_callback(store.close)
            manager = RunManager(checkpointing, store, resolved)
            await manager.open()
            stack.push_async_callback(manager.close)
            threads = Threads(manager)
            for state in (app.state, langgraph.state):
                state.settings = resolved
                state.manager = manager
                state.threads = threads
            app.state.graph_description = describe_graph(graph)
            langgraph.state.graph_id = graph.get_name()
            langgraph.state.started_at = iso_now()
            yield

    app = FastAPI(title="LangGraph SSE gateway", lifespan=lifespan, exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.add_middleware(Configured)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=api.STATIC_DIR), name="static")
    langgraph = create_langgraph_app()
    app.mount(LANGGRAPH_PREFIX, langgraph, name="langgraph")
    return app


app = create_app()
