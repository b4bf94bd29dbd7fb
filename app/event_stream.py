"""The SSE response: sse-starlette's EventSourceResponse, with one task per open stream, not four.

EventSourceResponse runs each stream as an anyio task group of four tasks: the body, the
heartbeat, a listener for the server's shutdown and one for the client leaving. Measured with
5,000 idle streams under uvicorn, that group is about 18 KB of each stream's memory, more than
uvicorn's whole connection. Here:

- the body is sent by the request's own task, as the parent sends it;
- one more task waits for the client to leave, and whenever that wait has lasted a heartbeat
  interval it sends the heartbeat, and checks that the body's current write is not stuck on a
  client that stopped reading (the send timeout: a stamp per write instead of a cancel scope
  per write, so a stuck client is cut off between one and two send timeouts after its write
  began);
- the server's shutdown reaches every open stream of the process through one watcher, which
  runs their shutdown hooks, lets them finish within the grace period, and then ends them.

The headers, the HEAD answer, the heartbeat factory and the body's framing are the parent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from sse_starlette.event import ServerSentEvent, ensure_bytes
from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

ShutdownHook = Callable[[], Awaitable[None]]


class EventStream(EventSourceResponse):
    def __init__(self, *args: Any, on_shutdown: ShutdownHook | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_shutdown = on_shutdown
        self._cancel_scope = anyio.CancelScope()
        self._writing_since: float | None = None

    def end(self) -> None:
        """Stop sending, wherever the body is: its generators are closed on the way out."""
        self.active = False
        self._cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].upper() == "HEAD":
            await super().__call__(scope, receive, send)
            return
        streams = _open_streams()
        with self._cancel_scope:
            listener = asyncio.create_task(self._listen(receive, send))
            streams.add(self)
            try:
                await self._stream_response(send)
            finally:
                self.active = False
                streams.discard(self)
                listener.cancel()
        if self._cancel_scope.cancelled_caught:
            # Ended where it stood (the client left, or the server stops): close the body, so
            # a client still there sees the stream end cleanly and reconnects. Bounded: a
            # client cut off for reading nothing would not take even this.
            with anyio.move_on_after(1), contextlib.suppress(RuntimeError, OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.background is not None:
            await self.background()

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        self._writing_since = asyncio.get_running_loop().time()
        try:
            await send(message)
        finally:
            self._writing_since = None

    async def _listen(self, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        ping_every = self.ping_interval or math.inf
        send_timeout = self.send_timeout or math.inf
        next_ping = loop.time() + ping_every
        while True:
            try:
                # Waiting for the client's next message is safe to cut short: uvicorn hands
                # one over only once it has arrived.
                async with asyncio.timeout_at(_or_none(min(next_ping, loop.time() + send_timeout))):
                    message = await receive()
            except TimeoutError:
                now = loop.time()
                writing_since = self._writing_since
                if writing_since is not None and now - writing_since >= send_timeout:
                    stuck = now - writing_since
                    logger.warning("stream cut off: its client read nothing for %.0f s", stuck)
                    break
                if now >= next_ping:
                    next_ping = now + ping_every
                    if not await self._heartbeat(send, send_timeout):
                        break
                continue
            if message["type"] == "http.disconnect":
                break
        self.end()

    async def _heartbeat(self, send: Send, send_timeout: float) -> bool:
        """Sends one; False when the client has not taken it within the send timeout."""
        factory = self.ping_message_factory or (lambda: ServerSentEvent(comment="ping"))
        body = ensure_bytes(factory(), self.sep)
        try:
            async with self._send_lock, asyncio.timeout(_or_none(send_timeout)):
                if self.active:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
        except TimeoutError:
            logger.warning("stream cut off: its client took no heartbeat for %.0f s", send_timeout)
            return False
        return True


def _or_none(seconds: float) -> float | None:
    return None if math.isinf(seconds) else seconds


class _OpenStreams:
    """The open streams of one event loop, and the one task that ends them at shutdown."""

    def __init__(self) -> None:
        self.streams: set[EventStream] = set()
        self._none_open = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def add(self, stream: EventStream) -> None:
        self.streams.add(stream)
        self._none_open.clear()
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    def discard(self, stream: EventStream) -> None:
        self.streams.discard(stream)
        if not self.streams:
            self._none_open.set()

    async def _watch(self) -> None:
        try:
            # The parent's own wait: it notices uvicorn stopping, however uvicorn was started.
            await EventSourceResponse._listen_for_exit_signal()
            stopping = list(self.streams)
            for stream in stopping:
                if stream._shutdown_event is not None:
                    stream._shutdown_event.set()
            hooks = {stream.on_shutdown for stream in stopping if stream.on_shutdown}
            outcomes = await asyncio.gather(*(hook() for hook in hooks), return_exceptions=True)
            for failure in outcomes:
                if isinstance(failure, BaseException):
                    logger.error("shutdown hook failed", exc_info=failure)
            grace = max((stream._shutdown_grace_period for stream in stopping), default=0)
            with anyio.move_on_after(grace):
                await self._none_open.wait()
            for stream in list(self.streams):
                stream.end()
        finally:
            # A stream opened after this, while the server is still stopping, starts a watcher
            # that finds it stopping at once.
            self._watcher = None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OpenStreams] = (
    weakref.WeakKeyDictionary()
)


def _open_streams() -> _OpenStreams:
    loop = asyncio.get_running_loop()
    streams = _by_loop.get(loop)
    if streams is None:
        streams = _by_loop[loop] = _OpenStreams()
    return streams
