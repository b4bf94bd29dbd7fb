"""A run's log as LangGraph's server streams it, and the bodies of /wait and /join.

The events this dialect sends were recorded in LangGraph's own framing when the run was made
(translate.LANGGRAPH_MODES), so a stream is the log read from a position and filtered: the
gateway's ids come with them, and a reconnect with Last-Event-ID resumes exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from app.dialects.langgraph import views
from app.errors import ApiError
from app.events import Event, EventName, InvalidEventId, RunStatus, parse_event_id
from app.payload import dumps
from app.runs import RunManager
from app.sse import Keep, StreamLog, event_stream_response, frames
from app.store.base import RunRecord
from app.threads import Threads
from app.translate import DIALECT_EVENT, wire_events

ERROR_TAIL = 64  # a failed run's run.error is among its last events


def run_path(record: RunRecord) -> str:
    # Relative to the API's base: the SDKs put their own base URL in front.
    if record.thread_id is None:
        return f"/runs/{record.run_id}"
    return f"/threads/{record.thread_id}/runs/{record.run_id}"


FROM_START = -1  # before the metadata event, which takes seq 0


def resume_after(request: Request, run_id: str) -> int:
    """Where a join resumes: after the event named by Last-Event-ID; from the very start
    (FROM_START) without one, or with useStream's "-1"."""
    value = request.headers.get("last-event-id", "").strip()
    if value in ("", "-1"):
        return FROM_START
    try:
        owner, seq = parse_event_id(value)
    except InvalidEventId as exc:
        raise ApiError(400, "invalid_last_event_id", str(exc)) from exc
    if owner != run_id:
        raise ApiError(400, "last_event_id_mismatch", f"Last-Event-ID {value!r} is another run's")
    return seq


def keep(modes: list[str] | None) -> Keep:
    """The events recorded for this dialect, of `modes` (all recorded ones when none), and
    always a failed run's error."""
    wanted = None
    if modes:
        wanted = {name for mode in modes for name in wire_events(mode)} | {"error", "metadata"}

    def keep_event(event: Event) -> bool:
        if not event.name.startswith(DIALECT_EVENT):
            return False
        mode = event.name[len(DIALECT_EVENT) :].split("|", 1)[0]
        return wanted is None or mode in wanted

    return keep_event


def metadata_frame(run_id: str) -> bytes:
    # LangGraph's first event; it takes seq 0, so resuming after it misses nothing.
    data = orjson.dumps({"run_id": run_id, "attempt": 1})
    return b"event: metadata\nid: %s.0\ndata: %s\n\n" % (run_id.encode(), data)


def stream_response(
    request: Request,
    manager: RunManager,
    record: RunRecord,
    after: int,
    *,
    modes: list[str] | None = None,
    cancel_on_disconnect: bool = False,
) -> Response:
    if after > record.events:
        raise ApiError(
            400,
            "last_event_id_beyond_end",
            f"run {record.run_id!r} has {record.events} events; there is no event {after}",
        )
    settings = request.app.state.settings
    first = b": connected\n\n" + (metadata_frame(record.run_id) if after == FROM_START else b"")
    after = max(after, 0)
    log = StreamLog(manager.metrics, record.run_id, record.principal, after)
    if after == record.events and record.status.finished:
        manager.metrics.resumes.labels("complete").inc()
        chunks: AsyncIterator[bytes] = _just(first)  # nothing left: the stream ends at once
    else:
        chunks = frames(manager.follow(record, after), keep=log.keep(keep(modes)), first=first)
        if cancel_on_disconnect:
            chunks = _cancel_if_left(chunks, lambda: manager.cancel(record.run_id))
    path = run_path(record)
    headers = {"Location": f"{path}/stream", "Content-Location": path}
    return event_stream_response(
        log.count(chunks), settings, manager.shutdown, manager.metrics, headers=headers
    )


async def _just(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def _cancel_if_left(
    chunks: AsyncIterator[bytes], cancel: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    ended = False
    try:
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                yield chunk
        ended = True
    finally:
        if not ended:  # the client went away before the run ended
            with anyio.move_on_after(5, shield=True):
                await cancel()


def wait_response(
    manager: RunManager, threads: Threads, record: RunRecord, heartbeat: float
) -> Response:
    """/wait and /join: JSON, sent when the run has ended; until then a newline now and then
    keeps proxies from closing the connection (JSON allows the leading whitespace)."""
    path = run_path(record)
    return StreamingResponse(
        _wait_body(final_values(manager, threads, record), heartbeat),
        media_type="application/json",
        headers={"Location": f"{path}/join", "Content-Location": path},
    )


async def _wait_body(done: Awaitable[dict[str, Any]], heartbeat: float) -> AsyncIterator[bytes]:
    task = asyncio.ensure_future(done)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=heartbeat)
            if not task.done():
                yield b"\n"
        yield dumps(task.result())
    finally:
        task.cancel()


async def final_values(manager: RunManager, threads: Threads, record: RunRecord) -> dict[str, Any]:
    """What LangGraph's /wait answers once the run has ended: the thread's values (with the
    pending `__interrupt__` when it paused), or `{"__error__": …}` when it failed."""
    record = await wait_for_end(manager, record)
    if record.status is RunStatus.ERROR:
        return {"__error__": await _run_error(manager, record)}
    if record.thread_id is None:
        return {}
    snapshot = await threads.snapshot(record.thread_id)
    return views.pending_values(snapshot)


async def wait_for_end(manager: RunManager, record: RunRecord) -> RunRecord:
    if not record.status.finished:
        async with contextlib.aclosing(manager.follow(record, record.events)) as batches:
            async for _ in batches:
                pass
    ended = await manager.store.get_run(record.run_id)
    return ended or record


async def _run_error(manager: RunManager, record: RunRecord) -> dict[str, Any] | None:
    failure = None
    start = max(0, record.events - ERROR_TAIL)
    async with contextlib.aclosing(manager.store.read(record.run_id, start)) as batches:
        async for batch in batches:
            for event in batch:
                if event.name == EventName.RUN_ERROR:
                    failure = _data(event.frame).get("error")
    return views.error(failure)


def _data(frame: bytes) -> dict[str, Any]:
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            return orjson.loads(line[6:])  # type: ignore[no-any-return]
    return {}
