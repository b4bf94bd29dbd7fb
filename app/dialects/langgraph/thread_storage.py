"""GET /threads/{thread_id}/storage: the bytes a thread's checkpoints occupy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.checkpoint_storage import NotMeasurable, thread_storage
from app.dialects.langgraph import schemas as S
from app.dialects.langgraph.routes import ThreadsDep, _caller
from app.errors import ApiError, JSONBody

router = APIRouter(dependencies=[Depends(_caller)])
ThreadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


@router.get(
    "/threads/{thread_id}/storage",
    response_model=S.ThreadStorage,
    responses=S.errors(S.THREAD),
)
async def get_thread_storage(thread_id: ThreadPath, threads: ThreadsDep) -> JSONBody:
    await threads.get(thread_id)  # 404 unless the thread is the caller's; 501 without threads
    saver = threads.checkpointing.saver
    assert saver is not None
    try:
        storage = await thread_storage(saver, thread_id)
    except NotMeasurable as exc:
        raise ApiError(
            501,
            "storage_not_measurable",
            "checkpoint storage is reported for the gateway's checkpointers (memory, SQLite, "
            f"PostgreSQL), not for the graph's own {exc}",
        ) from exc
    return JSONBody({"thread_id": thread_id, **storage})
