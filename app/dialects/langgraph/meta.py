"""LangGraph's server's meta routes, `/info` and `/ok`: what a client checks before it talks to
the server (Agent Chat UI calls `/info` on every page load), answered without credentials as
LangGraph's server answers them, and true of this gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cache, partial
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import langgraph.version
from fastapi import APIRouter, Query, Request
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, Field

from app.dialects.langgraph.schemas import errors
from app.errors import JSONBody
from app.requests import JSONRoute

PACKAGE = "langgraph-sse-gateway"
router = APIRouter(route_class=JSONRoute)
logger = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 3.0  # per store, as LangGraph's server waits
HEALTH_THREAD = "00000000-0000-0000-0000-000000000000"


class Flags(BaseModel):
    assistants: bool = Field(description="assistants can be created, versioned and deleted")
    crons: bool
    langsmith: bool
    langsmith_tracing_replicas: bool
    langsmith_tracing_session_on_runs: bool


class Host(BaseModel):
    kind: str
    project_id: str | None
    host_revision_id: str | None
    revision_id: str | None
    tenant_id: str | None


class Info(BaseModel):
    version: str = Field(description="the gateway's version (not langgraph-api's)")
    langgraph_py_version: str
    flags: Flags
    host: Host


class Ok(BaseModel):
    ok: bool
    services: dict[str, str]


def gateway_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@cache
def info() -> Info:
    # Assistants can be made and versioned here, crons kept; no LangSmith.
    return Info(
        version=gateway_version(),
        langgraph_py_version=langgraph.version.__version__,
        flags=Flags(
            assistants=True,
            crons=True,
            langsmith=False,
            langsmith_tracing_replicas=False,
            langsmith_tracing_session_on_runs=False,
        ),
        host=Host(
            kind="self-hosted",
            project_id=None,
            host_revision_id=None,
            revision_id=None,
            tenant_id=None,
        ),
    )


@router.get("/info", response_model=Info, responses=errors(()))
async def get_info() -> JSONBody:
    return JSONBody(info().model_dump())


async def _ping_checkpointer(saver: BaseCheckpointSaver[Any]) -> None:
    # A read of a thread no one has: it reaches the database without writing to it.
    await saver.aget_tuple({"configurable": {"thread_id": HEALTH_THREAD, "checkpoint_ns": ""}})


@router.get(
    "/ok",
    response_model=Ok,
    responses={
        **errors((422,)),
        500: {"model": Ok, "description": "with `check_db=1`: a store did not answer"},
    },
)
async def get_ok(
    request: Request,
    check_db: Annotated[
        int,
        Query(ge=0, le=1, description="1: check that the stores answer (500 if one does not)"),
    ] = 0,
) -> JSONBody:
    """Health, as LangGraph's server reports it: with `check_db=1`, whether the event store
    (Redis) and the checkpointer (SQLite, PostgreSQL) answer, within a few seconds each."""
    # Only what lives outside the process can fail to answer; with nothing there (the memory
    # store, in-memory checkpoints) there is nothing to check, as on LangGraph's in-memory server.
    manager = request.app.state.manager
    checks: dict[str, Callable[[], Awaitable[None]]] = {}
    if not manager.settings.store_url.startswith("memory"):
        checks["event_store"] = manager.store.ping
    if manager.checkpointing.durable:
        checks["checkpointer"] = partial(_ping_checkpointer, manager.checkpointing.saver)
    if not check_db:
        return JSONBody({"ok": True, "services": dict.fromkeys(checks, "skipped")})
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), HEALTH_CHECK_SECONDS) for check in checks.values()),
        return_exceptions=True,
    )
    services: dict[str, str] = {}
    for name, result in zip(checks, results, strict=True):
        services[name] = "unhealthy" if isinstance(result, BaseException) else "healthy"
        if isinstance(result, BaseException):
            logger.warning("health check: %s does not answer: %r", name, result)
    healthy = "unhealthy" not in services.values()
    return JSONBody({"ok": healthy, "services": services}, 200 if healthy else 500)
