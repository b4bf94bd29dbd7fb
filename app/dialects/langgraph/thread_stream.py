"""GET /threads/{thread_id}/stream: a thread's runs, one after the other, as LangGraph's server
streams each of them, on one connection that stays open for the runs still to come.

Each run's part is its log read as its own join would read it (streams.py), so every event
keeps its run's id (`<run_id>.<seq>`): a Last-Event-ID names a run and a position in it, and
the thread's runs follow in the order they took their turns, so a reconnect resumes exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from app.dialects.langgraph import schemas as S
from app.dialects.langgraph.routes import Caller, ThreadsDep, _caller
from app.dialects.langgraph.streams import FROM_START, metadata_frame
from app.dialects.langgraph.thread_log import ThreadGone, ThreadLog
from app.errors import ApiError
from app.events import Event, EventName, InvalidEventId, parse_event_id
from app.runs import RunManager
from app.sse import COALESCE_SECONDS, event_stream_response
from app.translate import DIALECT_EVENT

router = APIRouter(dependencies=[Depends(_caller)])
ThreadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
MODES = ("lifecycle", "run_modes", "state_update")


@dataclass(frozen=True)
class Start:
    """Where a reader starts: in the thread's run number `ordinal`, after its event `after`."""

    ordinal: int
    after: int


@dataclass(frozen=True)
class Wanted:
    """What the stream modes ask for. `state_update` is accepted but gives nothing: the gateway
    keeps no log of state updates made outside runs."""

    runs: bool  # every event the runs recorded for this dialect
    lifecycle: bool  # only each run's start (`metadata`) and end (`run_done`)

    def keep(self, event: Event) -> bool:
        if not event.name.startswith(DIALECT_EVENT):
            return False
        if self.runs:
            return True
        mode = event.name[len(DIALECT_EVENT) :].split("|", 1)[0]
        return self.lifecycle and mode == "metadata"

    @property
    def ends(self) -> bool:
        return self.runs or self.lifecycle


def stream_modes(request: Request) -> Wanted:
    # LangGraph's server reads `stream_modes`; its Python SDK sends `stream_mode`. Either may be
    # repeated or comma-separated; neither means run_modes.
    values = [
        mode.strip()
        for key in ("stream_modes", "stream_mode")
        for value in request.query_params.getlist(key)
        for mode in value.split(",")
        if mode.strip()
    ]
    for mode in values:
        if mode not in MODES:
            raise ApiError(422, "invalid_stream_mode", f"Invalid stream mode: {mode}")
    modes = set(values) or {"run_modes"}
    return Wanted(runs="run_modes" in modes, lifecycle="lifecycle" in modes)


async def start_of(request: Request, manager: RunManager, log: ThreadLog) -> Start:
    """After the event Last-Event-ID names; from the thread's first run with `-`; without one,
    from now on, as LangGraph's server does (the active run from its next event)."""
    value = request.headers.get("last-event-id", "").strip()
    run_ids = await log.run_ids()
    if value == "-":
        return Start(0, FROM_START)
    if not value:
        for ordinal, run_id in enumerate(run_ids):
            record = await manager.store.get_run(run_id)
            if record is not None and not record.status.finished:
                return Start(ordinal, record.events or FROM_START)
        return Start(len(run_ids), FROM_START)
    try:
        run_id, seq = parse_event_id(value)
    except InvalidEventId as exc:
        raise ApiError(400, "invalid_last_event_id", str(exc)) from exc
    if run_id not in run_ids:
        raise ApiError(
            400, "last_event_id_mismatch", f"Last-Event-ID {value!r} is no event of this thread"
        )
    record = await manager.store.get_run(run_id)
    if record is not None and seq > record.events:
        raise ApiError(
            400,
            "last_event_id_beyond_end",
            f"run {run_id!r} has {record.events} events; there is no event {seq}",
        )
    return Start(run_ids.index(run_id), seq)


def run_done_frame(event: Event, run_id: str) -> bytes:
    # LangGraph's server tells a run's end on a thread's stream as this `metadata` event; it
    # takes the id of the run's run.end, so resuming after it goes on with the next run.
    data = orjson.dumps({"status": "run_done", "run_id": run_id})
    return b"event: metadata\nid: %s.%d\ndata: %s\n\n" % (run_id.encode(), event.seq, data)


async def _run_frames(
    manager: RunManager, run_id: str, after: int, wanted: Wanted
) -> AsyncIterator[bytes]:
    record = await manager.store.get_run(run_id)
    if record is None or (after >= record.events and record.status.finished):
        return  # expired with its log, or read to its end already
    if after == FROM_START and wanted.ends:
        yield metadata_frame(run_id)
    async with contextlib.aclosing(manager.follow(record, max(after, 0))) as batches:
        async for batch in batches:
            out = []
            for event in batch:
                if wanted.keep(event):
                    out.append(event.frame)
                elif event.name == EventName.RUN_END and wanted.ends:
                    out.append(run_done_frame(event, run_id))
            if out:
                yield b"".join(out)


async def thread_frames(log: ThreadLog, start: Start, wanted: Wanted) -> AsyncIterator[bytes]:
    yield b": connected\n\n"
    manager = log.manager
    manager.metrics.open_streams.inc()
    try:
        async with contextlib.aclosing(log.runs(start.ordinal)) as runs:
            async for ordinal, run_id in runs:
                after = start.after if ordinal == start.ordinal else FROM_START
                async with contextlib.aclosing(
                    _run_frames(manager, run_id, after, wanted)
                ) as chunks:
                    async for chunk in chunks:
                        yield chunk
                        manager.metrics.bytes_sent.inc(len(chunk))
                        await asyncio.sleep(COALESCE_SECONDS)
    except ThreadGone:
        return  # deleted while it was read
    finally:
        manager.metrics.open_streams.dec()


@router.get(
    "/threads/{thread_id}/stream",
    response_class=Response,
    responses={**S.THREAD_STREAM, **S.errors((*S.THREAD, 400))},
)
async def join_thread_stream(
    request: Request, thread_id: ThreadPath, threads: ThreadsDep, caller: Caller
) -> Response:
    await threads.get(thread_id)  # 404 unless the thread is the caller's
    manager: RunManager = request.app.state.manager
    wanted = stream_modes(request)
    log = ThreadLog(manager, thread_id, caller)
    start = await start_of(request, manager, log)
    chunks = thread_frames(log, start, wanted)
    return event_stream_response(
        chunks, request.app.state.settings, manager.shutdown, manager.metrics
    )
