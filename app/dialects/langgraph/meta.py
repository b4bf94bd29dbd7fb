"""LangGraph's server's meta routes, `/info` and `/ok`: what a client checks before it talks to
the server (Agent Chat UI calls `/info` on every page load), answered without credentials as
LangGraph's server answers them, and true of this gateway."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

import langgraph.version
from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.dialects.langgraph.schemas import errors
from app.errors import JSONBody
from app.requests import JSONRoute

PACKAGE = "langgraph-sse-gateway"
router = APIRouter(route_class=JSONRoute)


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


@router.get("/ok", response_model=Ok, responses=errors(()))
async def get_ok() -> JSONBody:
    return JSONBody({"ok": True, "services": {}})
