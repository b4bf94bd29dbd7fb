"""Assembles the ASGI app: `app.main:app`, or `create_app(settings)` for one of your own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import api
from app.errors import HANDLERS
from app.graphs import describe_graph, load_graph
from app.runs import RunManager
from app.settings import Settings
from app.store import open_store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Without settings, they are read from the environment when the app starts, not before."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings()
        graph = load_graph(resolved.graph)
        store = open_store(resolved)
        manager = RunManager(graph, store, resolved)
        try:
            await manager.open()
        except Exception:
            await store.close()
            raise
        app.state.settings = resolved
        app.state.graph_description = describe_graph(graph)
        app.state.manager = manager
        try:
            yield
        finally:
            await manager.close()
            await store.close()

    app = FastAPI(title="LangGraph SSE gateway", lifespan=lifespan, exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=api.STATIC_DIR), name="static")
    return app


app = create_app()
