"""The page, the health check and the graph's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from app.api.deps import Caller
from app.api.schemas import GraphView, Health, errors
from app.errors import ApiError, JSONBody
from app.requests import JSONRoute

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
router = APIRouter(route_class=JSONRoute)


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/healthz", response_model=Health, responses=errors())
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, responses=errors(503))
async def readyz(request: Request) -> JSONBody:
    """Whether to send this process new work: 503 while it drains (on SIGTERM)."""
    if request.app.state.manager.draining:
        return JSONBody({"status": "draining"}, 503, headers={"Retry-After": "1"})
    return JSONBody({"status": "ok"})


@router.get("/graph", response_model=GraphView, responses=errors(401, 404))
async def graph(request: Request, caller: Caller, name: str | None = None) -> JSONBody:
    """The graph `name` (by default, the first one served)."""
    described: dict[str, Any] = request.app.state.graph_descriptions
    found = described.get(name) if name is not None else next(iter(described.values()))
    if found is None:
        served = ", ".join(described)
        raise ApiError(
            404, "graph_not_found", f"no graph {name!r} is served here (served: {served})"
        )
    return JSONBody(found)


@router.get("/graphs", response_model=list[str], responses=errors(401))
async def graphs(request: Request, caller: Caller) -> JSONBody:
    """The ids of the graphs served, the default one first."""
    return JSONBody(list(request.app.state.graph_descriptions))
