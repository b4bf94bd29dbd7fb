"""The LangGraph dialect as an ASGI app of its own, mounted at /langgraph: its own routes and
LangGraph's error shape, `{"detail": "<what is wrong>"}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.api import store
from app.auth import Unauthorized
from app.dialects import LANGGRAPH_PREFIX
from app.dialects.langgraph import (
    assistants,
    crons,
    mcp,
    meta,
    protocol,
    thread_storage,
    thread_stream,
    ui,
)
from app.dialects.langgraph.routes import caller, router
from app.dialects.langgraph.schemas import Detail
from app.errors import CHALLENGE, ApiError, JSONBody
from app.runs import AtCapacity, Draining
from app.store.base import StoreUnavailable

PREFIX = LANGGRAPH_PREFIX


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONBody({"detail": detail}, status, headers=headers)


def _explain(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
        for e in errors
        if isinstance(e, dict)
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    reasons = _explain(exc.details)
    detail = f"{exc.message}: {reasons}" if reasons else exc.message
    return _detail(exc.status, detail, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _detail(422, _explain(exc.errors()) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413:
        limit = request.app.state.settings.max_request_bytes
        return _detail(413, f"Request body too large (limit: {limit} bytes)")
    return _detail(exc.status_code, str(exc.detail), exc.headers)


async def _unauthorized(request: Request, exc: Exception) -> Response:
    return _detail(401, str(exc), CHALLENGE)


async def _unavailable(request: Request, exc: Exception) -> Response:
    return _detail(503, str(exc), {"Retry-After": "2"})


async def _at_capacity(request: Request, exc: Exception) -> Response:
    return _detail(429, str(exc), {"Retry-After": "1"})


async def _draining(request: Request, exc: Exception) -> Response:
    return _detail(503, str(exc), {"Retry-After": "1"})


def create_langgraph_app() -> FastAPI:
    """State (manager, threads, settings, graph_id, started_at, ui) is set by the gateway's app
    when it starts."""
    app = FastAPI(
        title="LangGraph SSE gateway: LangGraph's server protocol",
        description="The routes LangGraph's SDKs and useStream call, under /langgraph.",
        exception_handlers={  # type: ignore[arg-type]
            ApiError: _api_error,
            RequestValidationError: _validation_error,
            StarletteHTTPException: _http_error,
            StoreUnavailable: _unavailable,
            AtCapacity: _at_capacity,
            Draining: _draining,
            Unauthorized: _unauthorized,
        },
    )
    app.include_router(meta.router)
    app.include_router(assistants.router_with(caller))
    # LangGraph's store, as on the native API (the same routes and store).
    app.include_router(store.store_router(Detail))
    app.include_router(crons.router_with(caller))
    app.include_router(router)
    app.include_router(thread_stream.router)
    app.include_router(thread_storage.router)
    app.include_router(protocol.router)
    app.include_router(protocol.ws_router)
    app.include_router(mcp.router)
    app.include_router(ui.router)
    return app
