"""`/ag-ui`: the served graph as an AG-UI agent (`@ag-ui/client`'s HttpAgent, CopilotKit), and
the rejoin AG-UI itself has no mechanism for. Thin: AG-UI's events are made from the log by
events.py, its messages by messages.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import Manager, SettingsDep, ThreadsDep
from app.dialects.agui.events import AgUiEvent, AgUiRun, frame, parse_position
from app.dialects.agui.messages import RunAgentInput, new_messages, to_agui
from app.errors import ApiError
from app.events import EventName
from app.payload import dumps
from app.requests import JSONRoute
from app.runs import RunManager, RunSpec
from app.sse import COALESCE_SECONDS, StreamLog, event_stream_response, retry_frame
from app.store.base import MultitaskStrategy, RunRecord
from app.threads import Threads

router = APIRouter(prefix="/ag-ui", route_class=JSONRoute, tags=["AG-UI"])

# Where the events that make a join come, after the log's events at its position: numbered
# beyond any index a log event gives, so resuming after them continues with the next one.
JOIN_INDEX = 100_000


def stream_path(thread_id: str, run_id: str) -> str:
    return f"/ag-ui/threads/{thread_id}/runs/{run_id}/stream"


@router.post("", responses={200: {"content": {"text/event-stream": {}}}})
async def run_agent(
    body: RunAgentInput,
    request: Request,
    manager: Manager,
    threads: ThreadsDep,
    settings: SettingsDep,
) -> Response:
    if await manager.store.get_run(body.run_id) is not None:
        raise ApiError(
            409, "run_exists", f"run {body.run_id!r} exists: give every run its own runId"
        )
    command = body.command()
    kept: list[Any] = []
    if command is None and await manager.store.get_thread(body.thread_id) is not None:
        snapshot = await threads.snapshot(body.thread_id)
        kept = list((snapshot.values or {}).get("messages") or [])
    graph_input: dict[str, Any] = {**(body.state if isinstance(body.state, dict) else {})}
    graph_input.pop("messages", None)
    graph_input["messages"] = new_messages(body.messages, kept)
    # Where ag-ui-langgraph puts them, for graphs written against it.
    graph_input["tools"] = body.tools
    graph_input["ag-ui"] = {"tools": body.tools, "context": body.context}
    spec = RunSpec(
        input=None if command is not None else graph_input,
        command=command,
        thread_id=body.thread_id,
        strategy=MultitaskStrategy.REJECT,
        run_id=body.run_id,
        meta={"dialect": "ag-ui"},
    )
    record = await threads.start_run(spec, create_thread=True)
    return _stream(request, manager, threads, record, after=None, join=False)


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def rejoin(
    thread_id: str, run_id: str, request: Request, manager: Manager, threads: ThreadsDep
) -> Response:
    record = await manager.store.get_run(run_id)
    if record is None or record.thread_id != thread_id or record.principal != threads.principal:
        raise ApiError(404, "not_found", f"no run {run_id!r} on thread {thread_id!r}")
    value = request.headers.get("last-event-id", "").strip()
    if not value:
        return _stream(request, manager, threads, record, after=None, join=True)
    try:
        after = parse_position(value)
    except ValueError as exc:
        raise ApiError(400, "invalid_last_event_id", str(exc)) from exc
    if after[0] > record.events:
        raise ApiError(400, "last_event_id_beyond_end", f"run {run_id!r} has no event {value!r}")
    if record.status.finished:
        # Nothing more will come: what is left is known now, and nothing left is a 204
        # (after which EventSource stops reconnecting).
        run = AgUiRun(thread_id, run_id)
        left = [chunk async for chunk in _frames(manager, threads, record, run, after, False, b"")]
        body = b"".join(left)
        if not body:
            return Response(status_code=204)
        headers = {"Location": stream_path(thread_id, run_id), "Cache-Control": "no-store"}
        return Response(body, media_type="text/event-stream; charset=utf-8", headers=headers)
    return _stream(request, manager, threads, record, after=after, join=False)


def _stream(
    request: Request,
    manager: RunManager,
    threads: Threads,
    record: RunRecord,
    after: tuple[int, int] | None,
    join: bool,
) -> Response:
    assert record.thread_id is not None
    settings = request.app.state.settings
    run = AgUiRun(record.thread_id, record.run_id)
    chunks = _frames(manager, threads, record, run, after, join, retry_frame(settings.retry_ms))
    log = StreamLog(manager.metrics, record.run_id, record.principal, after[0] if after else 0)
    path = stream_path(record.thread_id, record.run_id)
    return event_stream_response(
        log.count(chunks), settings, manager.shutdown, manager.metrics, headers={"Location": path}
    )


async def _frames(
    manager: RunManager,
    threads: Threads,
    record: RunRecord,
    run: AgUiRun,
    after: tuple[int, int] | None,
    join: bool,
    first: bytes,
) -> AsyncIterator[bytes]:
    """The run's AG-UI events after `after` (all of them when None). A join passes over the
    log as it stands when it begins, then says in one go where things stand."""
    yield first
    position = after or (-1, -1)
    joined_at = record.events if join else -1
    async with contextlib.aclosing(manager.follow(record, 0)) as batches:
        async for batch in batches:
            out: list[bytes] = []
            for event in batch:
                made = run.events(event)
                if event.name == EventName.RUN_END and made and made[-1]["type"] == "RUN_FINISHED":
                    made[-1:-1] = await _snapshots(threads, record)
                for index, agui in enumerate(made):
                    if (event.seq, index) > position and event.seq > joined_at:
                        out.append(frame(event.seq, index, agui))
                if event.seq == joined_at:
                    out += [
                        frame(event.seq, JOIN_INDEX + i, agui)
                        for i, agui in enumerate(await _join(threads, record, run))
                    ]
            if out:
                yield b"".join(out)
                if run.ended:
                    return
                # As the native stream does: events that come fast gather into fewer writes.
                await asyncio.sleep(COALESCE_SECONDS)
            if run.ended:
                return


async def _join(threads: Threads, record: RunRecord, run: AgUiRun) -> list[AgUiEvent]:
    """Where the run stands, as valid AG-UI on its own: started, the state and messages so
    far, then what is open (or, for a run that has ended, how it ended)."""
    started = {"type": "RUN_STARTED", "threadId": run.thread_id, "runId": run.run_id}
    if run.failed and run.terminal is not None:
        return [started, run.terminal]
    joined = [started, *await _snapshots(threads, record)]
    if run.ended and run.terminal is not None:
        return [*joined, run.terminal]
    return [*joined, *run.reopen()]


async def _snapshots(threads: Threads, record: RunRecord) -> list[AgUiEvent]:
    """The thread's state and its messages: as this run left them (its last checkpoint),
    whatever later runs did; the latest while it has written none."""
    assert record.thread_id is not None
    own = await threads.snapshots(record.thread_id, limit=1, metadata={"run_id": record.run_id})
    snapshot = own[0] if own else await threads.snapshot(record.thread_id)
    values = snapshot.values if isinstance(snapshot.values, dict) else {}
    messages = [m for m in (to_agui(m) for m in values.get("messages") or ()) if m is not None]
    state = {k: v for k, v in values.items() if k != "messages"}
    return [
        {"type": "STATE_SNAPSHOT", "snapshot": orjson.loads(dumps(state))},
        {"type": "MESSAGES_SNAPSHOT", "messages": messages},
    ]
