"""Runs: start one, read its status, cancel it, and stream its log (replay, then live)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import AccessDep, Caller, Manager, ThreadsDep, get_access
from app.api.schemas import (
    ONE_SHOT_PARAMETERS,
    STREAM,
    STREAM_PARAMETERS,
    CancelView,
    RunCreated,
    RunView,
    errors,
)
from app.auth import Access
from app.errors import ApiError, JSONBody, not_found
from app.requests import (
    JSONRoute,
    RunRequest,
    event_filter,
    one_shot_request,
    read_run_request,
    resume_position,
    stream_mode,
)
from app.runs import RunManager
from app.settings import Settings
from app.sse import StreamLog, event_stream_response, frames, native_events, retry_frame
from app.store.base import RunRecord

router = APIRouter(route_class=JSONRoute)
RUN_REQUEST_SCHEMA = "#/components/schemas/RunRequest"


def created(record: RunRecord, access: Access) -> JSONBody:
    return JSONBody(
        {
            "run_id": record.run_id,
            "thread_id": record.thread_id,
            "status": record.status,
            "stream_url": access.stream_url(record),
        },
        201,
    )


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    responses=errors(400, 401, 404, 409, 413, 422, 429, 501, 503),
)
async def create_run(body: RunRequest, threads: ThreadsDep, access: AccessDep) -> JSONBody:
    spec = body.spec()
    record = await threads.start_run(spec, create_thread=body.if_not_exists == "create")
    return created(record, access)


@router.get("/runs/{run_id}", response_model=RunView, responses=errors(401, 404, 503))
async def get_run(run_id: str, manager: Manager, caller: Caller, access: AccessDep) -> JSONBody:
    record = await run_record(manager, run_id, caller)
    return JSONBody({**record.public(), "stream_url": access.stream_url(record)})


@router.post(
    "/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelView,
    responses=errors(401, 404, 503),
)
async def cancel_run(run_id: str, manager: Manager, caller: Caller) -> JSONBody:
    record = await run_record(manager, run_id, caller)
    await manager.cancel(run_id)
    return JSONBody(
        {"run_id": run_id, "status": "cancelling" if not record.status.finished else record.status},
        202,
    )


@router.get(
    "/runs/{run_id}/stream",
    response_class=Response,
    responses={**STREAM, **errors(400, 401, 404, 503)},
    openapi_extra={"parameters": STREAM_PARAMETERS},
)
async def stream_run(run_id: str, request: Request, manager: Manager) -> Response:
    reader = await get_access(request).reader(request)
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
    return await attach(request, manager, run_id, after, reader)


@router.get(
    "/stream",
    response_class=Response,
    responses={**STREAM, **errors(400, 401, 404, 409, 422, 429, 501, 503)},
    openapi_extra={"parameters": STREAM_PARAMETERS + ONE_SHOT_PARAMETERS},
)
async def one_shot_get(request: Request, manager: Manager) -> Response:
    access = get_access(request)
    position = resume_position(request)
    if position is not None:
        return await attach(request, manager, *position, await access.reader(request))
    threads = request.app.state.threads.scoped(await access.caller(request))
    record = await threads.start_run(one_shot_request(request).spec())
    return await attach(request, manager, record.run_id, 0, (record.principal, None))


@router.post(
    "/stream",
    response_class=Response,
    responses={**STREAM, **errors(400, 401, 404, 409, 413, 422, 429, 501, 503)},
    # The body is read by hand, after Last-Event-ID: it is a POST /runs body.
    openapi_extra={
        "parameters": STREAM_PARAMETERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}
            },
        },
    },
)
async def one_shot_post(request: Request, manager: Manager) -> Response:
    access = get_access(request)
    # A reconnect must resume its run, never start another: look at the id before the body.
    position = resume_position(request)
    if position is not None:
        return await attach(request, manager, *position, await access.reader(request))
    threads = request.app.state.threads.scoped(await access.caller(request))
    body = await read_run_request(request)
    record = await threads.start_run(body.spec(), create_thread=body.if_not_exists == "create")
    return await attach(request, manager, record.run_id, 0, (record.principal, None))


async def run_record(manager: RunManager, run_id: str, principal: str | None) -> RunRecord:
    """The run, if it is the principal's: another's answers 404, as an unknown one does."""
    record = await manager.store.get_run(run_id)
    if record is None or record.principal != principal:
        raise not_found(run_id)
    return record


async def attach(
    request: Request,
    manager: RunManager,
    run_id: str,
    after: int,
    reader: tuple[str | None, set[str] | None],
) -> Response:
    names = event_filter(request)
    mode = stream_mode(request)
    record = await manager.store.get_run(run_id)
    if record is None or not Access.may_read(record, *reader):
        raise not_found(run_id)
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
    metrics = manager.metrics
    if after == record.events and record.status.finished:
        # EventSource stops reconnecting on 204: the client already has everything.
        metrics.resumes.labels("complete").inc()
        return Response(status_code=204)
    settings: Settings = request.app.state.settings
    log = StreamLog(metrics, run_id, reader[0], after)
    chunks = frames(
        manager.follow(record, after),
        keep=log.keep(native_events(names)),
        first=retry_frame(settings.retry_ms),
    )
    return event_stream_response(log.count(chunks), settings, manager.shutdown, metrics)
