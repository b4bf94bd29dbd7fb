"""Other processes: their requests for this process's runs, the runs of a process that has
stopped or handed them over (taken over in takeover.py), and threads whose time is up."""

from __future__ import annotations

import asyncio
import logging
import time

from app.settings import DisconnectPolicy
from app.store.base import StoreUnavailable

logger = logging.getLogger(__name__)


class Liveness:
    """RunManager's watch over the processes that share its store."""

    async def _listen(self) -> None:
        async for kind, run_id in self.store.control():
            active = self._active.get(run_id)
            if active is None:
                continue
            if kind == "cancel":
                self._cancel_local(active)
            elif kind == "start":
                active.turn.set()
            elif active.policy is DisconnectPolicy.CANCEL:
                self._arm_grace_timer(active)

    async def _end_lost_runs(self) -> None:
        lease = self.settings.run_lease_seconds
        while True:
            await asyncio.sleep(lease / 4)
            try:
                for run_id, handed_over in await self.store.claim_lost_runs():
                    self._track(self._take_over(run_id, handed_over), name=f"take-{run_id}")
            except StoreUnavailable as exc:
                logger.warning("cannot look for stopped processes: %s", exc)

    async def _expire_threads(self) -> None:
        """Threads made for one-shot runs go, checkpoints and all, with their last run."""
        saver = self.checkpointing.saver
        assert saver is not None
        interval = min(60.0, max(1.0, self.settings.run_ttl_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                for thread_id in await self.store.claim_expired_threads(time.time()):
                    await saver.adelete_thread(thread_id)
            except Exception as exc:  # a checkpointer or store hiccup: next round
                logger.warning("cannot expire threads: %s", exc)
