"""Runs: start one, read its status, cancel it, and stream its log (replay, then live)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import Manager, ThreadsDep
from app.errors import ApiError, JSONBody, not_found
from app.requests import (
    RunRequest,
    event_filter,
    one_shot_request,
    read_run_request,
    resume_position,
    stream_mode,
)
from app.runs import RunManager
from app.settings import Settings
from app.sse import event_stream_response, frames, native_events, retry_frame
from app.store.base import RunRecord

router = APIRouter()
RUN_REQUEST_SCHEMA = "#/components/schemas/RunRequest"


def created(record: RunRecord) -> JSONBody:
    return JSONBody(
        {
            "run_id": record.run_id,
            "thread_id": record.thread_id,
            "status": record.status,
            "stream_url": f"/runs/{record.run_id}/stream",
        },
        201,
    )


@router.post("/runs", status_code=201)
async def create_run(body: RunRequest, threads: ThreadsDep) -> JSONBody:
    spec = body.spec()
    return created(await threads.start_run(spec, create_thread=body.if_not_exists == "create"))


@router.get("/runs/{run_id}")
async def get_run(run_id: str, manager: Manager) -> JSONBody:
    return JSONBody((await run_record(manager, run_id)).public())


@router.post("/runs/{run_id}/cancel", status_code=202)
async def cancel_run(run_id: str, manager: Manager) -> JSONBody:
    record = await run_record(manager, run_id)
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
    return await attach(request, manager, run_id, after)


@router.get("/stream")
async def one_shot_get(request: Request, manager: Manager, threads: ThreadsDep) -> Response:
    position = resume_position(request)
    if position is not None:
        return await attach(request, manager, *position)
    record = await threads.start_run(one_shot_request(request).spec())
    return await attach(request, manager, record.run_id, 0)


@router.post(
    "/stream",
    # The body is read by hand, after Last-Event-ID: it is a POST /runs body.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}
            },
        }
    },
)
async def one_shot_post(request: Request, manager: Manager, threads: ThreadsDep) -> Response:
    # A reconnect must resume its run, never start another: look at the id before the body.
    position = resume_position(request)
    if position is not None:
        return await attach(request, manager, *position)
    body = await read_run_request(request)
    record = await threads.start_run(body.spec(), create_thread=body.if_not_exists == "create")
    return await attach(request, manager, record.run_id, 0)


async def run_record(manager: RunManager, run_id: str) -> RunRecord:
    record = await manager.store.get_run(run_id)
    if record is None:
        raise not_found(run_id)
    return record


async def attach(request: Request, manager: RunManager, run_id: str, after: int) -> Response:
    names = event_filter(request)
    mode = stream_mode(request)
    record = await run_record(manager, run_id)
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
    chunks = frames(
        manager.follow(record, after),
        keep=native_events(names),
        first=retry_frame(settings.retry_ms),
    )
    return event_stream_response(chunks, settings, on_shutdown=manager.shutdown)
