"""Who reads a run: its readers across processes, and the disconnect policy that cancels a
run nobody reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import anyio

from app.events import Event
from app.runs.spec import ActiveRun
from app.settings import DisconnectPolicy
from app.store.base import RunRecord, StoreUnavailable

logger = logging.getLogger(__name__)


class Readers:
    """RunManager's readers of a run's log, and the disconnect policy."""

    async def follow(self, record: RunRecord, after: int) -> AsyncIterator[Sequence[Event]]:
        """The run's events after `after`, counted as one of its readers meanwhile."""
        run_id = record.run_id
        try:
            await self.store.add_subscriber(run_id, 1)
        except StoreUnavailable as exc:
            # The response has started: end it cleanly, and the client resumes later.
            logger.warning("cannot follow run %s: %s", run_id, exc)
            return
        active = self._active.get(run_id)
        if active is not None and active.grace_timer is not None:
            active.grace_timer.cancel()
            active.grace_timer = None
        try:
            async with contextlib.aclosing(self.store.read(run_id, after)) as batches:
                async for batch in batches:
                    yield batch
        finally:
            # The reader is usually here because its connection was cancelled, and an anyio
            # cancel scope cancels every await inside it: shield the bookkeeping.
            with anyio.move_on_after(5, shield=True):
                await self._unsubscribe(record)

    async def _unsubscribe(self, record: RunRecord) -> None:
        try:
            remaining = await self.store.add_subscriber(record.run_id, -1)
        except StoreUnavailable:
            return
        if remaining > 0 or record.on_disconnect != DisconnectPolicy.CANCEL:
            return
        active = self._active.get(record.run_id)
        if active is not None:
            self._arm_grace_timer(active)
        else:
            with contextlib.suppress(StoreUnavailable):
                await self.store.publish("idle", record.run_id)

    def _arm_grace_timer(self, active: ActiveRun) -> None:
        if active.run_id not in self._active or active.grace_timer is not None:
            return
        loop = asyncio.get_running_loop()
        active.grace_timer = loop.call_later(
            self.settings.disconnect_grace_seconds, self._spawn, self._abandon_if_unread(active)
        )

    async def _abandon_if_unread(self, active: ActiveRun) -> None:
        active.grace_timer = None
        if await self.store.add_subscriber(active.run_id, 0) == 0:
            logger.info(
                "run %s has had no reader for %ss: cancelling",
                active.run_id,
                self.settings.disconnect_grace_seconds,
            )
            self._cancel_local(active)
