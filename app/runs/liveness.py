"""Other processes: their requests for this process's runs, the runs of a process that has
stopped, and threads whose time is up."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from app.events import EventName, RunStatus
from app.runs.spec import WorkerLost
from app.settings import DisconnectPolicy
from app.store.base import StoreUnavailable
from app.translate import error_info, interrupt_list
from app.writer import RunWriter, until_stored

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
                for run_id in await self.store.claim_lost_runs():
                    self._track(self._end_lost_run(run_id), name=f"lost-{run_id}")
            except StoreUnavailable as exc:
                logger.warning("cannot look for stopped processes: %s", exc)

    async def _end_lost_run(self, run_id: str) -> None:
        failure: dict[str, Any] | None = None
        record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and not record.status.finished:
            error = WorkerLost(f"the process running this run ({record.owner}) stopped")
            writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
            ended = await writer.end(
                [
                    (EventName.RUN_ERROR, {"error": error_info(error)}),
                    (EventName.RUN_END, {"status": RunStatus.ERROR, "duration_ms": None}),
                ],
                RunStatus.ERROR,
                resync=True,
            )
            if ended is not None:
                logger.warning("run %s lost its process %s: ended it", run_id, record.owner)
                failure = error_info(error)
            record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and record.status.finished:
            # Its process may have stopped between the run's end and its thread's bookkeeping.
            interrupts: list[dict[str, Any]] = []
            if record.status is RunStatus.INTERRUPTED and record.thread_id is not None:
                interrupts = interrupt_list(await self._paused(record.thread_id) or [])
            await self._settle(record, interrupts, failure)
        await until_stored(lambda: self.store.release_run(run_id), run_id)

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
