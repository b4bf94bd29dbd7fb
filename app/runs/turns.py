"""A run's turn on its thread: runs on a thread take turns, across processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from app.events import RunStatus
from app.runs.spec import ActiveRun
from app.store.base import (
    MultitaskStrategy,
    RunRecord,
    StoreUnavailable,
    ThreadBusy,
    ThreadMissing,
    ThreadTurn,
)
from app.writer import until_stored

logger = logging.getLogger(__name__)


class ThreadBell:
    """Rings when this process puts a run on a thread, for the thread's event streams here
    (those of other processes find it by looking: Settings.thread_poll_seconds)."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def ring(self, thread_id: str) -> None:
        for waiter in self._waiting.get(thread_id, ()):
            waiter.set()

    async def wait(self, thread_id: str, seconds: float) -> None:
        waiter = asyncio.Event()
        waiters = self._waiting.setdefault(thread_id, set())
        waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await waiter.wait()
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiting.pop(thread_id, None)


class ThreadTurns:
    """RunManager's side of a thread's turns."""

    async def _begin_on_thread(
        self, thread_id: str, record: RunRecord, strategy: MultitaskStrategy
    ) -> ThreadTurn:
        try:
            return await self.store.begin_thread_run(thread_id, record, strategy)
        except ThreadBusy as exc:
            # A run that ended (or expired) without settling its thread holds it no more.
            active = await self.store.get_run(exc.active) if exc.active else None
            if exc.active is None or (active is not None and not active.status.finished):
                raise
            logger.warning("thread %s: run %s had ended; freeing the thread", thread_id, exc.active)
            stale = active or RunRecord(
                exc.active, RunStatus.ERROR, record.created_at, thread_id=thread_id
            )
            await self._settle(stale, [])
            return await self.store.begin_thread_run(thread_id, record, strategy)

    async def _wait_for_turn(self, active: ActiveRun, thread_id: str | None) -> None:
        # Told by the process that ends the run before it (a "start" message); asking the
        # thread now and then covers a message lost with a Redis outage.
        assert thread_id is not None
        while not active.turn.is_set():
            thread = await self.store.get_thread(thread_id)
            if thread is None:
                raise ThreadMissing(thread_id)
            if thread.active_run == active.run_id:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.turn.wait(), self.settings.run_lease_seconds / 4)

    async def _settle(
        self,
        record: RunRecord,
        interrupts: list[dict[str, Any]],
        error: dict[str, Any] | None = None,
    ) -> None:
        """The thread's side of a run's end: its status, and the next queued run's turn."""
        thread_id = record.thread_id
        if thread_id is None:
            return
        expires_at = time.time() + self.settings.run_ttl_seconds
        next_run = await until_stored(
            lambda: self.store.finish_thread_run(thread_id, record, interrupts, error, expires_at),
            f"thread {thread_id}",
        )
        if next_run is not None:
            await self._give_turn(next_run)

    async def _give_turn(self, run_id: str) -> None:
        active = self._active.get(run_id)
        if active is not None:
            active.turn.set()
        else:
            with contextlib.suppress(StoreUnavailable):
                await self.store.publish("start", run_id)
