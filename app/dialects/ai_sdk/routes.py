"""`/ai-sdk/chat`: the served graph behind the AI SDK's `useChat` (DefaultChatTransport), a
chat per thread, interrupts as tool approvals, and a resume that is exact. Thin: the parts are
made from the log by parts.py, the request read by chat.py."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import Manager, ThreadsDep
from app.dialects.ai_sdk.chat import (
    ChatRequest,
    UiMessage,
    answered_approvals,
    human_message,
    resume_command,
)
from app.dialects.ai_sdk.parts import Answered, UiRun, frame, parse_position
from app.errors import ApiError
from app.requests import JSONRoute
from app.runs import RunManager, RunSpec
from app.sse import COALESCE_SECONDS, StreamLog, event_stream_response, retry_frame
from app.store.base import MultitaskStrategy, RunRecord, ThreadStatus
from app.threads import Threads

router = APIRouter(prefix="/ai-sdk", route_class=JSONRoute, tags=["AI SDK"])

# As the AI SDK's own stream writer answers (useChat reads the body whatever they say).
HEADERS = {"x-vercel-ai-ui-message-stream": "v1", "x-accel-buffering": "no"}
MEDIA_TYPE = "text/event-stream; charset=utf-8"
# How far back a resume follows a message continued by approvals (each answer is one run).
MAX_CHAIN = 64


@router.post("/chat", responses={200: {"content": {"text/event-stream": {}}}})
async def chat(
    body: ChatRequest, request: Request, manager: Manager, threads: ThreadsDep
) -> Response:
    if body.trigger == "regenerate-message":
        raise ApiError(
            422,
            "not_supported",
            "regenerate-message is not supported: a thread's turns are kept in its checkpoints",
        )
    last = body.messages[-1]
    run_id = uuid.uuid4().hex
    if last.role == "user":
        spec = _new_turn(body, last, run_id)
    elif last.role == "assistant":
        spec = await _continuation(body.id, last, manager, threads, run_id)
    else:
        raise ApiError(
            422, "invalid_message", "the last message must be the user's or the assistant's"
        )
    record = await threads.start_run(spec, create_thread=True)
    return _stream(request, manager, [record], after=None)


@router.get("/chat/{chat_id}/stream", responses={200: {"content": {"text/event-stream": {}}}})
async def resume(chat_id: str, request: Request, manager: Manager, threads: ThreadsDep) -> Response:
    value = request.headers.get("last-event-id", "").strip()
    if value:
        return await _rejoin(chat_id, value, request, manager, threads)
    # useChat's resume after a reload: the answer being written, whole; nothing (204) when
    # none is.
    try:
        thread = await threads.get(chat_id)
    except ApiError as exc:
        if exc.status == 404:
            return Response(status_code=204)
        raise
    record = await manager.store.get_run(thread.active_run) if thread.active_run else None
    if record is None or record.status.finished:
        return Response(status_code=204)
    return _stream(request, manager, await _chain(manager, record), after=None)


async def _rejoin(
    chat_id: str, value: str, request: Request, manager: RunManager, threads: Threads
) -> Response:
    """Exactly the parts after `value`, of the run it names."""
    try:
        run_id, seq, index = parse_position(value)
    except ValueError as exc:
        raise ApiError(400, "invalid_last_event_id", str(exc)) from exc
    record = await manager.store.get_run(run_id)
    if record is None or record.principal != threads.principal:  # (whether it exists: not said)
        raise ApiError(
            404, "unknown_run", f"run {run_id!r} is not known here (it may have expired)"
        )
    if record.thread_id != chat_id:
        raise ApiError(400, "foreign_last_event_id", f"event {value!r} is not of chat {chat_id!r}")
    if seq > record.events:
        raise ApiError(400, "last_event_id_beyond_end", f"run {run_id!r} has no event {value!r}")
    if not record.status.finished:
        return _stream(request, manager, [record], after=(seq, index))
    # Nothing more will come: what is left is known now, and nothing left is a 204 (after
    # which an EventSource stops reconnecting).
    left = b"".join([chunk async for chunk in _frames(manager, [record], (seq, index))])
    if not left:
        return Response(status_code=204)
    return Response(left, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store", **HEADERS})


def _new_turn(body: ChatRequest, last: UiMessage, run_id: str) -> RunSpec:
    """The user's new message: the run's only input, the checkpoint holding the rest."""
    return RunSpec(
        input={**body.input, "messages": [human_message(last)]},
        thread_id=body.id,
        strategy=MultitaskStrategy.REJECT,
        run_id=run_id,
        meta=_meta(message_id=f"msg-{run_id}"),
    )


async def _continuation(
    chat_id: str, last: UiMessage, manager: RunManager, threads: Threads, run_id: str
) -> RunSpec:
    """The approvals the assistant's message answers, as the thread's resume."""
    answers = answered_approvals(last)
    if not answers:
        raise ApiError(
            422,
            "nothing_to_answer",
            "the last message is the assistant's and answers no approval: send a user message",
        )
    thread = await threads.get(chat_id)
    pending = {str(i["id"]): i.get("value") for i in thread.interrupts}
    details = {"status": thread.status, "pending": sorted(pending)}
    if thread.active_run is not None or thread.status is not ThreadStatus.INTERRUPTED:
        raise ApiError(
            409,
            "not_waiting",
            f"chat {chat_id!r} is {thread.status}: it waits for no approval",
            details=details,
        )
    command = resume_command(answers, pending)
    runs = await manager.store.thread_runs(chat_id)
    asked = await manager.store.get_run(runs[0]["run_id"]) if runs else None
    shown = await _calls_shown(manager, asked) if asked is not None else set()
    return RunSpec(
        command=command,
        thread_id=chat_id,
        strategy=MultitaskStrategy.REJECT,
        run_id=run_id,
        meta=_meta(
            message_id=last.id,
            continues=asked.run_id if asked is not None else None,
            answered=[dataclasses.asdict(a) for a in answers],
            shown=sorted(shown),
        ),
    )


def _meta(**fields: object) -> dict[str, object]:
    return {"dialect": "ai-sdk", "ai_sdk": {k: v for k, v in fields.items() if v is not None}}


def ui_run(record: RunRecord) -> UiRun:
    meta = record.meta.get("ai_sdk") or {}
    return UiRun(
        record.run_id,
        str(meta.get("message_id") or f"msg-{record.run_id}"),
        answered=tuple(Answered(**a) for a in meta.get("answered") or ()),
        shown=frozenset(meta.get("shown") or ()),
    )


async def _calls_shown(manager: RunManager, record: RunRecord) -> set[str]:
    """The tool calls a (finished) run's message shows, so the run continuing it shows none of
    them again."""
    run = ui_run(record)
    async with contextlib.aclosing(manager.store.read(record.run_id, 0)) as batches:
        async for batch in batches:
            for event in batch:
                run.parts(event)
            if run.ended:
                break
    return run.calls


async def _chain(manager: RunManager, record: RunRecord) -> list[RunRecord]:
    """The runs that wrote the message `record` writes into, oldest first: a resume replays
    them all, as useChat needs the whole message."""
    chain = [record]
    while len(chain) < MAX_CHAIN:
        earlier = (chain[0].meta.get("ai_sdk") or {}).get("continues")
        found = await manager.store.get_run(earlier) if earlier else None
        if found is None:
            break
        chain.insert(0, found)
    return chain


def _stream(
    request: Request,
    manager: RunManager,
    chain: list[RunRecord],
    after: tuple[int, int] | None,
) -> Response:
    settings = request.app.state.settings
    record = chain[-1]
    chunks = _frames(manager, chain, after, retry_frame(settings.retry_ms))
    log = StreamLog(manager.metrics, record.run_id, record.principal, after[0] if after else 0)
    return event_stream_response(
        log.count(chunks), settings, manager.shutdown, manager.metrics, headers=HEADERS
    )


async def _frames(
    manager: RunManager,
    chain: list[RunRecord],
    after: tuple[int, int] | None,
    first: bytes = b"",
) -> AsyncIterator[bytes]:
    """The parts of the chain's runs as one message: one `start`, one `finish`. After
    `after` (of the last run) when given."""
    if first:
        yield first
    for number, record in enumerate(chain):
        drop = set()
        if number > 0:
            drop.add("start")
        if number < len(chain) - 1:
            drop |= {"finish", "[DONE]"}
        position = after if after is not None and record is chain[-1] else (-1, -1)
        async for chunk in _run_frames(manager, record, position, drop):
            yield chunk


async def _run_frames(
    manager: RunManager, record: RunRecord, after: tuple[int, int], drop: set[str]
) -> AsyncIterator[bytes]:
    run = ui_run(record)
    async with contextlib.aclosing(manager.follow(record, 0)) as batches:
        async for batch in batches:
            out = [
                frame(record.run_id, event.seq, index, part)
                for event in batch
                for index, part in enumerate(run.parts(event))
                if (event.seq, index) > after and _kind(part) not in drop
            ]
            if out:
                yield b"".join(out)
                if run.ended:
                    return
                # As the native stream does: parts that come fast gather into fewer writes.
                await asyncio.sleep(COALESCE_SECONDS)
            if run.ended:
                return


def _kind(part: dict[str, object] | str) -> object:
    return part if isinstance(part, str) else part["type"]
