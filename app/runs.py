"""RunManager: starts runs as background tasks that write their log, and owns their lifecycle:
cancellation, the disconnect policy, subscriber counts and the limit on active runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.events import Event, EventName, RunStatus, encode_event, now_ms
from app.settings import DisconnectPolicy, Settings
from app.store.base import EventStore, RunRecord
from app.translate import STREAM_MODE, RawPassthrough, Translator

logger = logging.getLogger(__name__)


class AtCapacity(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the gateway is running its limit of {limit} runs; retry shortly")
        self.limit = limit


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunWriter:
    """Numbers a run's events 1, 2, 3, … and appends them to the store."""

    def __init__(self, store: EventStore, run_id: str, max_payload_bytes: int) -> None:
        self._store = store
        self._run_id = run_id
        self._max_payload = max_payload_bytes
        self.seq = 0

    async def append(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        if not items:
            return
        ts = now_ms()
        events = []
        for name, fields in items:
            self.seq += 1
            events.append(encode_event(self._run_id, self.seq, name, fields, ts, self._max_payload))
        await self._store.append(self._run_id, events)


@dataclass
class _ActiveRun:
    run_id: str
    policy: DisconnectPolicy
    task: asyncio.Task[None] | None = None
    subscribers: int = 0
    grace_timer: asyncio.TimerHandle | None = None
    cancelling: bool = False


class RunManager:
    def __init__(self, graph: Any, store: EventStore, settings: Settings) -> None:
        self.graph = graph
        self.store = store
        self.settings = settings
        self._active: dict[str, _ActiveRun] = {}

    @property
    def active_runs(self) -> int:
        return len(self._active)

    async def start(
        self,
        input_: Any,
        config: dict[str, Any] | None = None,
        on_disconnect: DisconnectPolicy | None = None,
        mode: str = "events",
    ) -> RunRecord:
        if len(self._active) >= self.settings.max_runs:
            raise AtCapacity(self.settings.max_runs)
        policy = on_disconnect or self.settings.on_disconnect
        record = RunRecord(
            run_id=uuid.uuid4().hex,
            status=RunStatus.PENDING,
            created_at=iso_now(),
            mode=mode,
            on_disconnect=policy,
        )
        await self.store.create_run(record)
        active = _ActiveRun(record.run_id, policy)
        self._active[record.run_id] = active
        active.task = asyncio.create_task(
            self._drive(record, input_, config or {}), name=f"run-{record.run_id}"
        )
        if policy is DisconnectPolicy.CANCEL:
            # A run nobody ever attaches to is abandoned too.
            self._arm_grace_timer(active)
        return record

    async def cancel(self, run_id: str) -> bool:
        """Ask a run to stop; False when it is not running here (unknown or already ended)."""
        active = self._active.get(run_id)
        if active is None or active.task is None:
            return False
        self._cancel_local(active)
        return True

    def _cancel_local(self, active: _ActiveRun) -> None:
        # Once only: a second cancel would interrupt the run while it writes its run.end.
        if active.task is not None and not active.cancelling:
            active.cancelling = True
            active.task.cancel()

    @contextlib.asynccontextmanager
    async def subscription(self, run_id: str) -> AsyncIterator[None]:
        active = self._active.get(run_id)
        if active is not None:
            active.subscribers += 1
            if active.grace_timer is not None:
                active.grace_timer.cancel()
                active.grace_timer = None
        try:
            yield
        finally:
            if active is not None:
                active.subscribers -= 1
                if active.subscribers == 0 and active.policy is DisconnectPolicy.CANCEL:
                    self._arm_grace_timer(active)

    async def follow(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        """The run's events after `after`, counted as a subscriber while being read."""
        async with self.subscription(run_id):
            async for batch in self.store.read(run_id, after):
                yield batch

    def _arm_grace_timer(self, active: _ActiveRun) -> None:
        if active.run_id not in self._active or active.grace_timer is not None:
            return
        loop = asyncio.get_running_loop()

        def abandon() -> None:
            active.grace_timer = None
            if active.subscribers == 0:
                logger.info(
                    "run %s has had no subscriber for %ss: cancelling",
                    active.run_id,
                    self.settings.disconnect_grace_seconds,
                )
                self._cancel_local(active)

        active.grace_timer = loop.call_later(self.settings.disconnect_grace_seconds, abandon)

    async def _drive(self, record: RunRecord, input_: Any, config: dict[str, Any]) -> None:
        run_id = record.run_id
        writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
        translator = RawPassthrough() if record.mode == "raw" else Translator()
        started = time.monotonic()
        status = RunStatus.SUCCESS
        failure: list[tuple[str, dict[str, Any]]] = []
        try:
            await self.store.set_status(run_id, RunStatus.RUNNING)
            raw_events = self.graph.astream_events(
                input_, config, version="v2", stream_mode=STREAM_MODE
            )
            async with contextlib.aclosing(raw_events):
                async for raw in raw_events:
                    await writer.append(translator.translate(raw, now_ms()))
        except asyncio.CancelledError:
            # The log must still end with run.end, so the cancellation stops here.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = RunStatus.CANCELLED
        except Exception as exc:
            logger.warning("run %s failed: %s: %s", run_id, type(exc).__name__, exc)
            status = RunStatus.ERROR
            failure = translator.fail(exc)
        finally:
            # From here on nothing can cancel the run: its last events are being written.
            self._forget(run_id)
        end: dict[str, Any] = {
            "status": status,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        if status is RunStatus.SUCCESS:
            end["output"] = translator.output
        await writer.append([*failure, (EventName.RUN_END, end)])
        await self.store.set_status(run_id, status, ended_at=iso_now())

    def _forget(self, run_id: str) -> None:
        active = self._active.pop(run_id, None)
        if active is not None and active.grace_timer is not None:
            active.grace_timer.cancel()

    async def shutdown(self) -> None:
        """Cancel every active run and wait until each has written its run.end."""
        tasks = [a.task for a in self._active.values() if a.task is not None]
        for active in list(self._active.values()):
            self._cancel_local(active)
        if tasks:
            await asyncio.wait(tasks, timeout=10)
