"""SIGTERM drains the process before the server stops.

uvicorn stops listening the moment SIGTERM arrives, and what it then shuts down it cancels. A
deploy asks for less: stop taking new runs (`/readyz` answers 503, so the load balancer sends
them elsewhere) while still listening, let the running runs finish, hand the rest over; only
then does uvicorn's own handler run and the server stop. A second SIGTERM (or a SIGINT, as
Ctrl-C) stops at once, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

Drain = Callable[[], Awaitable[None]]
SignalHandler = Callable[[int, FrameType | None], Any]


class DrainOnSigterm:
    """Stands in front of the server's SIGTERM handler (uvicorn's) for as long as the app runs."""

    def __init__(self, drain: Drain, server_handler: SignalHandler) -> None:
        self._drain = drain
        self._server_handler = server_handler
        self._loop = asyncio.get_running_loop()
        self._draining: asyncio.Task[None] | None = None
        self._signalled = False

    @property
    def should_exit(self) -> bool:
        # sse-starlette finds the server through the SIGTERM handler's owner, and asks it this.
        server = getattr(self._server_handler, "__self__", None)
        return bool(getattr(server, "should_exit", False))

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self._signalled:
            self._server_handler(signum, frame)
            return
        self._signalled = True
        # A signal handler may run between any two steps of the loop: schedule, do not start.
        self._loop.call_soon_threadsafe(self._start, signum)

    def _start(self, signum: int) -> None:
        self._draining = self._loop.create_task(self._drain_then_stop(signum), name="drain")

    async def _drain_then_stop(self, signum: int) -> None:
        try:
            await self._drain()
        except Exception:
            logger.exception("draining failed; stopping")
        finally:
            self._server_handler(signum, None)


@contextlib.contextmanager
def drain_on_sigterm(drain: Drain) -> Iterator[None]:
    """While inside, SIGTERM runs `drain` before the server's own handler. Only a server that
    handles SIGTERM itself (uvicorn does, from the main thread) gets this; anything else (a
    test's in-process app, a server in a thread) keeps its signals as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGTERM)
    if not callable(current):
        yield
        return
    handler = DrainOnSigterm(drain, current)
    signal.signal(signal.SIGTERM, handler.handle)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) == handler.handle:
            signal.signal(signal.SIGTERM, current)
