"""The HTTP routes: parse, call the RunManager, return."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from app.errors import ApiError, JSONBody, not_found
from app.requests import (
    RunRequest,
    event_filter,
    one_shot_request,
    read_run_request,
    resume_position,
    stream_mode,
)
from app.runs import AtCapacity, RunManager
from app.settings import Settings
from app.sse import event_stream_response, frames
from app.store.base import RunRecord

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter()


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def run_body(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> RunRequest:
    return await read_run_request(request, settings.max_request_bytes)


Manager = Annotated[RunManager, Depends(get_manager)]
Body = Annotated[RunRequest, Depends(run_body)]


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/graph")
async def graph(request: Request) -> JSONBody:
    return JSONBody(request.app.state.graph_description)


@router.post("/runs", status_code=201)
async def create_run(body: Body, manager: Manager) -> JSONBody:
    record = await _start(manager, body)
    return JSONBody(
        {
            "run_id": record.run_id,
            "status": record.status,
            "stream_url": f"/runs/{record.run_id}/stream",
        },
        201,
    )


@router.get("/runs/{run_id}")
async def get_run(run_id: str, manager: Manager) -> JSONBody:
    return JSONBody((await _record(manager, run_id)).public())


@router.post("/runs/{run_id}/cancel", status_code=202)
async def cancel_run(run_id: str, manager: Manager) -> JSONBody:
    record = await _record(manager, run_id)
    await manager.cancel(run_id)
    return JSONBody(
        {"run_id": run_id, "status": "cancelling" if not record.status.finished else record.status},
        202,
    )


@router.get("/runs/{run_id}/stream")
async def stream_run(run_id: str, request: Request, manager: Manager) -> Response:
    after = 0
    position = resume_position(request)
    if position is not None:
        if position[0] != run_id:
            raise ApiError(
                400,
                "last_event_id_mismatch",
                f"Last-Event-ID belongs to run {position[0]!r}, not {run_id!r}",
            )
        after = position[1]
    return await _attach(request, manager, run_id, after)


@router.get("/stream")
async def one_shot_get(request: Request, manager: Manager) -> Response:
    position = resume_position(request)
    if position is not None:
        return await _attach(request, manager, *position)
    record = await _start(manager, one_shot_request(request))
    return await _attach(request, manager, record.run_id, 0)


@router.post("/stream")
async def one_shot_post(
    request: Request, manager: Manager, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    # A reconnect must resume its run, never start another: look at the id before the body.
    position = resume_position(request)
    if position is not None:
        return await _attach(request, manager, *position)
    record = await _start(manager, await read_run_request(request, settings.max_request_bytes))
    return await _attach(request, manager, record.run_id, 0)


async def _start(manager: RunManager, body: RunRequest) -> RunRecord:
    try:
        return await manager.start(body.input, body.config, body.on_disconnect, body.mode)
    except AtCapacity as exc:
        raise ApiError(429, "at_capacity", str(exc), headers={"Retry-After": "1"}) from exc


async def _record(manager: RunManager, run_id: str) -> RunRecord:
    record = await manager.store.get_run(run_id)
    if record is None:
        raise not_found(run_id)
    return record


async def _attach(request: Request, manager: RunManager, run_id: str, after: int) -> Response:
    names = event_filter(request)
    mode = stream_mode(request)
    record = await _record(manager, run_id)
    if mode is not None and mode != record.mode:
        raise ApiError(
            400,
            "mode_mismatch",
            f"run {run_id!r} was recorded in mode {record.mode!r}, not {mode!r}",
        )
    if after > record.events:
        raise ApiError(
            400,
            "last_event_id_beyond_end",
            f"run {run_id!r} has {record.events} events; there is no event {after}",
        )
    if after == record.events and record.status.finished:
        # EventSource stops reconnecting on 204: the client already has everything.
        return Response(status_code=204)
    settings: Settings = request.app.state.settings
    chunks = frames(manager.follow(record, after), retry_ms=settings.retry_ms, names=names)
    return event_stream_response(chunks, settings, on_shutdown=manager.shutdown)
