"""Threads: create, read (state, history, runs), delete, and run on one (a new input, or a
command that resumes it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from app.api.deps import AccessDep, ThreadsDep
from app.api.runs import created
from app.api.schemas import RunCreated, RunSummary, StateView, ThreadDetail, ThreadView, errors
from app.errors import JSONBody
from app.requests import JSONRoute, RunRequest, ThreadRequest

router = APIRouter(prefix="/threads", route_class=JSONRoute)
ThreadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


@router.post(
    "",
    status_code=201,
    response_model=ThreadView,
    responses=errors(401, 409, 413, 422, 501, 503),
)
async def create_thread(
    threads: ThreadsDep, access: AccessDep, body: ThreadRequest | None = None
) -> JSONBody:
    body = body or ThreadRequest()
    record = await threads.create(body.thread_id, body.metadata)
    token = access.thread_token(record)
    # With auth on, a token for EventSource: `?token=` on any stream of this thread's runs.
    return JSONBody({**record.public(), **({"stream_token": token} if token else {})}, 201)


@router.get("/{thread_id}", response_model=ThreadDetail, responses=errors(401, 404, 422, 501, 503))
async def get_thread(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    return JSONBody(await threads.describe(thread_id))


@router.get(
    "/{thread_id}/state", response_model=StateView, responses=errors(401, 404, 422, 501, 503)
)
async def thread_state(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    return JSONBody(await threads.state(thread_id))


@router.get(
    "/{thread_id}/history",
    response_model=list[StateView],
    responses=errors(401, 404, 422, 501, 503),
)
async def thread_history(
    thread_id: ThreadPath, threads: ThreadsDep, limit: Annotated[int, Query()] = 10
) -> JSONBody:
    return JSONBody(await threads.history(thread_id, limit))


@router.get(
    "/{thread_id}/runs", response_model=list[RunSummary], responses=errors(401, 404, 422, 501, 503)
)
async def thread_runs(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    return JSONBody(await threads.runs(thread_id))


@router.delete("/{thread_id}", status_code=204, responses=errors(401, 404, 409, 422, 501, 503))
async def delete_thread(thread_id: ThreadPath, threads: ThreadsDep) -> Response:
    await threads.delete(thread_id)
    return Response(status_code=204)


@router.post(
    "/{thread_id}/runs",
    status_code=201,
    response_model=RunCreated,
    responses=errors(400, 401, 404, 409, 413, 422, 429, 501, 503),
)
async def create_thread_run(
    thread_id: ThreadPath, body: RunRequest, threads: ThreadsDep, access: AccessDep
) -> JSONBody:
    record = await threads.start_run(
        body.spec(thread_id), create_thread=body.if_not_exists == "create"
    )
    return created(record, access)
