"""Writing one run's log: numbering its events and appending them, then ending it once."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.events import Event, RunStatus, encode_event, now_ms
from app.store.base import AppendConflict, EventStore, RunEnd, StoreUnavailable

logger = logging.getLogger(__name__)

Emitted = list[tuple[str, dict[str, Any]]]
T = TypeVar("T")

# Redis replicates asynchronously: a master that fails may take the last events of a run with
# it, after readers have seen them. The writer keeps its last events (so many, of so many bytes
# at most) to append them again, identical, when the log turns out to end before them.
RESTORE_EVENTS = 64
RESTORE_BYTES = 256 * 1024


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def until_stored(call: Callable[[], Awaitable[T]], what: str) -> T:
    """Retry `call` for as long as the store is unreachable: what it records must not be
    lost (a run's end, its thread's bookkeeping). Only cancelling the caller stops it."""
    delay = 0.05
    while True:
        try:
            return await call()
        except StoreUnavailable as exc:
            if delay == 0.05:
                logger.warning("%s: the store is unreachable, retrying: %s", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)


class RunWriter:
    """Numbers a run's events after `seq` (1, 2, 3, … for a new run) and appends them, as
    `owner` when given (the store refuses them once another process has taken the run)."""

    def __init__(
        self,
        store: EventStore,
        run_id: str,
        max_payload_bytes: int,
        seq: int = 0,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._owner = owner
        self.run_id = run_id
        self._max_payload = max_payload_bytes
        self.seq = seq
        self._recent: deque[Event] = deque(maxlen=RESTORE_EVENTS)
        self._recent_bytes = 0

    def _encode(self, items: Emitted) -> list[Event]:
        ts = now_ms()
        first = self.seq + 1
        return [
            encode_event(self.run_id, first + i, name, fields, ts, self._max_payload)
            for i, (name, fields) in enumerate(items)
        ]

    async def append(self, items: Emitted) -> None:
        if not items:
            return
        events = self._encode(items)
        try:
            await self._store.append(self.run_id, events, owner=self._owner)
        except AppendConflict as exc:
            lost = None if exc.ended else self._lost_after(await self._store.last_seq(self.run_id))
            if lost is None:
                raise
            await self._store.append(self.run_id, [*lost, *events], owner=self._owner)
        self._remember(events)
        self.seq = events[-1].seq

    def _remember(self, events: list[Event]) -> None:
        for event in events:
            if len(self._recent) == RESTORE_EVENTS:
                self._recent_bytes -= len(self._recent[0].frame)
            self._recent.append(event)
            self._recent_bytes += len(event.frame)
        while self._recent_bytes > RESTORE_BYTES:
            self._recent_bytes -= len(self._recent.popleft().frame)

    def _lost_after(self, last: int | None) -> list[Event] | None:
        """This writer's events after `last`, when the log ends before them and all of them are
        still at hand; None otherwise."""
        if last is None:
            return None
        lost = [event for event in self._recent if event.seq > last]
        if not lost or lost[0].seq != last + 1:
            return None
        logger.warning(
            "run %s: the store lost events %d to %d; appending them again",
            self.run_id,
            lost[0].seq,
            lost[-1].seq,
        )
        return lost

    async def end(
        self, items: Emitted, status: RunStatus, *, resync: bool = False
    ) -> RunEnd | None:
        """Append the run's last events (ending with run.end), closing its log. Returns the
        end when these ended the run; None when it had already ended (another process ended
        it as lost, or it expired). While the store is unreachable this keeps trying."""
        lost: list[Event] = []
        while True:
            if resync:
                # Events in flight when the store failed may or may not have landed; those that
                # did not are appended again. (A run that is gone has no last seq: the append
                # below then says it has ended.)
                last = await until_stored(lambda: self._store.last_seq(self.run_id), self.run_id)
                lost = self._lost_after(last) or []
                if not lost:
                    self.seq = last or 0
            end = RunEnd(status, iso_now())
            events = self._encode(items)
            try:
                await self._store.append(self.run_id, [*lost, *events], end, self._owner)
                await self._store.flush(self.run_id)
            except AppendConflict as exc:
                if exc.ended:
                    return None
            except StoreUnavailable as exc:
                logger.warning("run %s: cannot record its end yet: %s", self.run_id, exc)
                await asyncio.sleep(0.5)
            else:
                self.seq = events[-1].seq
                return end
            resync = True
