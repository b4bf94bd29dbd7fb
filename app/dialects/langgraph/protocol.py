"""LangGraph's thread streaming protocol (its "v2", what `@langchain/react`'s useStream and
`client.threads.stream` speak): commands, and a thread's events over SSE or a WebSocket.

    POST /threads/{thread_id}/commands        one command in, one response out
    POST /threads/{thread_id}/stream/events   the thread's events (SSE), filtered
    WS   /threads/{thread_id}/stream/events   commands in; responses and events out

Every event is read from the thread's runs' logs (thread_log.py), so `seq` is the same on
every connection and every process: `since` (or Last-Event-ID) resumes exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, Path, Request, WebSocket, WebSocketDisconnect
from starlette.responses import Response

from app.auth import Unauthorized
from app.dialects.langgraph import schemas as S
from app.dialects.langgraph.channels import ChannelEvent, Filter, is_channel
from app.dialects.langgraph.commands import (
    BAD_ENVELOPE,
    ThreadCommands,
    envelope,
    error,
    given_id,
    success,
)
from app.dialects.langgraph.routes import Caller, _caller
from app.dialects.langgraph.thread_log import ResumeGap, ThreadGone, ThreadLog
from app.errors import JSONBody
from app.metrics import Metrics
from app.payload import dumps
from app.sse import COALESCE_SECONDS, event_stream_response, retry_frame

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(_caller)])
ws_router = APIRouter()
ThreadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
# The JS SDK takes a stream for dead when it has seen heartbeats and then nothing for a while:
# LangGraph's server sends one every 5 s.
MAX_HEARTBEAT_SECONDS = 5.0
ALLOWED = (
    "values, updates, messages, tools, custom, lifecycle, input, tasks, checkpoints, "
    "or any `custom:<name>`"
)


class BadFilter(ValueError):
    pass


def parse_filter(params: dict[str, Any]) -> Filter:
    channels = params.get("channels")
    if not isinstance(channels, list) or not channels:
        raise BadFilter("channels is required and must be a non-empty array")
    bad = [repr(c) if not isinstance(c, str) else c for c in channels if not _channel_ok(c)]
    if bad:
        raise BadFilter(
            f"channels contains unsupported entries: {', '.join(bad[:5])}. Allowed: {ALLOWED}."
        )
    namespaces = params.get("namespaces")
    prefixes = None
    if isinstance(namespaces, list):
        kept = [
            tuple(ns)
            for ns in namespaces
            if isinstance(ns, list) and all(isinstance(s, str) for s in ns)
        ]
        prefixes = tuple(kept) or None
    depth = params.get("depth")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        depth = None
    return Filter(frozenset(channels), prefixes, depth)


def _channel_ok(channel: Any) -> bool:
    return isinstance(channel, str) and is_channel(channel)


def parse_since(params: dict[str, Any], last_event_id: str | None = None) -> int | None:
    since = params.get("since")
    if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
        return since
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return None


async def _json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None


@router.post(
    "/threads/{thread_id}/commands",
    response_class=Response,
    responses=S.COMMAND,
    openapi_extra=S.json_body(S.ProtocolCommand),
)
async def thread_command(request: Request, thread_id: ThreadPath, caller: Caller) -> Response:
    value = await _json(request)
    parsed = envelope(value)
    if parsed is None:
        return JSONBody(error(given_id(value), "invalid_argument", BAD_ENVELOPE), 400)
    answer = await ThreadCommands(request, thread_id, caller).run(*parsed)
    return JSONBody(answer)


@router.post(
    "/threads/{thread_id}/stream/events",
    response_class=Response,
    responses=S.EVENTS,
    openapi_extra=S.json_body(S.EventStreamRequest),
)
async def thread_events(request: Request, thread_id: ThreadPath, caller: Caller) -> Response:
    params = await _json(request)
    if not isinstance(params, dict):
        return JSONBody({"detail": "Invalid JSON body"}, 400)
    try:
        wanted = parse_filter(params)
    except BadFilter as exc:
        return JSONBody({"detail": str(exc)}, 400)
    since = parse_since(params, request.headers.get("last-event-id"))
    manager = request.app.state.manager
    log = ThreadLog(manager, thread_id, caller)
    try:
        await log.last_seq()  # the thread is this caller's (or does not exist yet)
    except ThreadGone:
        return JSONBody({"detail": f"Thread with ID {thread_id} not found"}, 404)
    settings = request.app.state.settings
    ping = min(settings.heartbeat_seconds, MAX_HEARTBEAT_SECONDS)
    first = retry_frame(settings.retry_ms)
    chunks = _sse_frames(log.events(since), wanted, first, manager.metrics)
    return event_stream_response(
        chunks,
        settings.model_copy(update={"heartbeat_seconds": ping}),
        manager.shutdown,
        manager.metrics,
    )


async def _sse_frames(
    batches: AsyncIterator[list[ChannelEvent]], wanted: Filter, first: bytes, metrics: Metrics
) -> AsyncIterator[bytes]:
    yield first
    metrics.open_streams.inc()
    try:
        async with contextlib.aclosing(batches):
            async for batch in batches:
                kept = b"".join(event.frame() for event in batch if wanted.matches(event))
                if kept:
                    metrics.bytes_sent.inc(len(kept))
                    yield kept
                    await asyncio.sleep(COALESCE_SECONDS)
    except ResumeGap as exc:
        yield b"event: error\ndata: %s\n\n" % dumps(_gap_error(None, exc))
    except ThreadGone:
        return
    finally:
        metrics.open_streams.dec()


def _gap_error(command_id: int | None, exc: ResumeGap) -> dict[str, Any]:
    answer = error(command_id, "resume_gap", str(exc))
    answer.update(since=exc.since, min_available_seq=exc.oldest)
    return answer


# The WebSocket: one socket, several subscriptions, each event sent at most once.


@ws_router.websocket("/threads/{thread_id}/stream/events")
async def thread_socket(websocket: WebSocket, thread_id: str) -> None:
    if not _origin_allowed(websocket):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    try:
        caller = await websocket.app.state.access.caller(websocket)
    except Unauthorized:
        await websocket.close(code=1008, reason="unauthorized")
        return
    log = ThreadLog(websocket.app.state.manager, thread_id, caller)
    try:
        await log.last_seq()
    except ThreadGone:
        await websocket.close(code=1008, reason=f"Thread with ID {thread_id} not found")
        return
    await websocket.accept()
    session = _Socket(websocket, log, ThreadCommands(websocket, thread_id, caller))
    try:
        await session.serve()
    finally:
        await session.close()


def _origin_allowed(websocket: WebSocket) -> bool:
    """A browser names the page's origin; CORS does not cover WebSockets, so the same
    allow-list is applied here. Clients that are not browsers send none."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    allowed = websocket.app.state.settings.cors_origin_list()
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


class _Socket:
    def __init__(self, websocket: WebSocket, log: ThreadLog, commands: ThreadCommands) -> None:
        self.websocket = websocket
        self.log = log
        self.commands = commands
        self.max_bytes = websocket.app.state.settings.max_request_bytes
        self.filters: dict[str, Filter] = {}
        self.every_filter: list[Filter] = []  # past ones too: what was sent matched one
        self.position: int | None = None  # the seq the socket has read the thread to
        self.lock = asyncio.Lock()  # one sender at a time; the position moves under it
        self.live: asyncio.Task[None] | None = None
        self.next_id = 1

    async def serve(self) -> None:
        while True:
            try:
                text = await self.websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(text) > self.max_bytes:
                await self.websocket.close(code=1009, reason="command too large")
                return
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                value = None
            parsed = envelope(value)
            if parsed is None:
                await self._send(error(given_id(value), "invalid_argument", BAD_ENVELOPE))
                continue
            command_id, method, params = parsed
            if method == "subscription.subscribe":
                await self._subscribe(command_id, params)
            elif method == "subscription.unsubscribe":
                await self._unsubscribe(command_id, params)
            else:
                await self._send(await self.commands.run(command_id, method, params))

    async def _subscribe(self, command_id: int, params: dict[str, Any]) -> None:
        try:
            wanted = parse_filter(params)
        except BadFilter as exc:
            await self._send(error(command_id, "invalid_argument", str(exc)))
            return
        since = parse_since(params)
        async with self.lock:
            try:
                if self.position is None:
                    self.position = await self.log.last_seq()
                replayed = await self._replay(wanted, since)
            except ResumeGap as exc:
                await self._send_unlocked(_gap_error(command_id, exc))
                return
            except ThreadGone as exc:
                await self._send_unlocked(error(command_id, "invalid_argument", str(exc)))
                return
            subscription_id = f"sub-{self.next_id}"
            self.next_id += 1
            self.filters[subscription_id] = wanted
            self.every_filter.append(wanted)
            result = {"subscription_id": subscription_id, "replayed_events": replayed}
            await self._send_unlocked(success(command_id, result, self.position))
        if self.live is None:
            self.live = asyncio.create_task(self._follow())

    async def _replay(self, wanted: Filter, since: int | None) -> int:
        """The thread up to where the socket has read it, of what this subscription wants and
        no earlier one did (that was sent already)."""
        earlier = list(self.every_filter)
        sent = 0
        async with contextlib.aclosing(self.log.events(since, until=self.position)) as batches:
            async for batch in batches:
                frames = [
                    event.json()
                    for event in batch
                    if wanted.matches(event) and not any(f.matches(event) for f in earlier)
                ]
                for frame in frames:
                    await self.websocket.send_text(frame.decode())
                sent += len(frames)
        return sent

    async def _unsubscribe(self, command_id: int, params: dict[str, Any]) -> None:
        subscription_id = params.get("subscription_id")
        async with self.lock:
            if self.filters.pop(subscription_id, None) is None:  # type: ignore[arg-type]
                answer = error(
                    command_id, "no_such_subscription", f"Unknown subscription: {subscription_id}"
                )
            else:
                answer = success(command_id, {}, self.position or 0)
            await self._send_unlocked(answer)

    async def _follow(self) -> None:
        try:
            async with contextlib.aclosing(self.log.events(self.position)) as batches:
                async for batch in batches:
                    async with self.lock:
                        for event in batch:
                            if any(f.matches(event) for f in self.filters.values()):
                                await self.websocket.send_text(event.json().decode())
                            self.position = event.seq
        except (ThreadGone, ResumeGap) as exc:
            logger.info("thread stream ended: %s", exc)
            with contextlib.suppress(Exception):
                await self.websocket.close(code=1011, reason=str(exc)[:120])
        except (WebSocketDisconnect, RuntimeError):
            return

    async def _send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self._send_unlocked(message)

    async def _send_unlocked(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await self.websocket.send_text(dumps(message).decode())

    async def close(self) -> None:
        if self.live is not None:
            self.live.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.live
