"""The page, the health check and the graph's shape."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from app.api.deps import Caller
from app.api.schemas import GraphView, Health, errors
from app.errors import JSONBody
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


@router.get("/graph", response_model=GraphView, responses=errors(401))
async def graph(request: Request, caller: Caller) -> JSONBody:
    return JSONBody(request.app.state.graph_description)
