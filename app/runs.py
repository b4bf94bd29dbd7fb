"""RunManager: starts runs as background tasks that write their log, and owns their lifecycle:
cancellation, the disconnect policy, the limit on active runs, and (with a shared store) the
leases that let another process end the runs of a process that died."""

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

import anyio

from app.events import Event, EventName, RunStatus, encode_event, now_ms
from app.settings import DisconnectPolicy, Settings
from app.store.base import AppendConflict, EventStore, RunEnd, RunRecord, StoreUnavailable
from app.translate import STREAM_MODE, RawPassthrough, Translator, error_info

logger = logging.getLogger(__name__)

Emitted = list[tuple[str, dict[str, Any]]]


class AtCapacity(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the gateway is running its limit of {limit} runs; retry shortly")
        self.limit = limit


class WorkerLost(Exception):
    """The process running the run stopped renewing its lease."""


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunWriter:
    """Numbers a run's events after `seq` (1, 2, 3, … for a new run) and appends them."""

    def __init__(
        self, store: EventStore, run_id: str, max_payload_bytes: int, seq: int = 0
    ) -> None:
        self._store = store
        self.run_id = run_id
        self._max_payload = max_payload_bytes
        self.seq = seq

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
        await self._store.append(self.run_id, events)
        self.seq = events[-1].seq

    async def end(self, items: Emitted, status: RunStatus, *, resync: bool = False) -> bool:
        """Append the run's last events (ending with run.end), closing its log. True when these
        ended the run; False when it had already ended (another process ended it as lost, or
        it expired). While the store is unreachable this keeps trying: a run's log must end."""
        delay = 0.05
        while True:
            try:
                if resync:
                    # Events in flight when the store failed may or may not have landed. (A run
                    # that is gone has no last seq: the append below then says it has ended.)
                    self.seq = await self._store.last_seq(self.run_id) or 0
                events = self._encode(items)
                await self._store.append(self.run_id, events, RunEnd(status, iso_now()))
                await self._store.flush(self.run_id)
                self.seq = events[-1].seq
                return True
            except AppendConflict as exc:
                if exc.ended:
                    return False
            except StoreUnavailable as exc:
                if delay == 0.05:
                    logger.warning("run %s: cannot record its end yet: %s", self.run_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2)
            resync = True


@dataclass
class _ActiveRun:
    run_id: str
    policy: DisconnectPolicy
    task: asyncio.Task[None] | None = None
    grace_timer: asyncio.TimerHandle | None = None
    cancelling: bool = False


class RunManager:
    def __init__(self, graph: Any, store: EventStore, settings: Settings) -> None:
        self.graph = graph
        self.store = store
        self.settings = settings
        self._active: dict[str, _ActiveRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._chores: set[asyncio.Task[Any]] = set()

    @property
    def active_runs(self) -> int:
        return len(self._active)

    async def open(self) -> None:
        """Start listening for other processes' requests and watching for stopped ones."""
        await self.store.open(self.settings.run_lease_seconds)
        self._background = [
            asyncio.create_task(self._listen(), name="run-control"),
            asyncio.create_task(self._end_lost_runs(), name="lost-runs"),
        ]

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
            owner=self.store.process_id,
        )
        await self.store.create_run(record)
        active = _ActiveRun(record.run_id, policy)
        self._active[record.run_id] = active
        active.task = self._track(
            self._drive(active, record, input_, config or {}), name=f"run-{record.run_id}"
        )
        if policy is DisconnectPolicy.CANCEL:
            # A run nobody ever attaches to is abandoned too.
            self._arm_grace_timer(active)
        return record

    async def cancel(self, run_id: str) -> bool:
        """Ask a run to stop, wherever it runs; False when it has already ended or is unknown."""
        active = self._active.get(run_id)
        if active is not None:
            self._cancel_local(active)
            return True
        record = await self.store.get_run(run_id)
        if record is None or record.status.finished:
            return False
        await self.store.publish("cancel", run_id)
        return True

    def _cancel_local(self, active: _ActiveRun) -> None:
        # Once only: a second cancel would interrupt the run while it writes its run.end.
        if active.task is not None and not active.cancelling:
            active.cancelling = True
            active.task.cancel()

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

    def _arm_grace_timer(self, active: _ActiveRun) -> None:
        if active.run_id not in self._active or active.grace_timer is not None:
            return
        loop = asyncio.get_running_loop()
        active.grace_timer = loop.call_later(
            self.settings.disconnect_grace_seconds, self._spawn, self._abandon_if_unread(active)
        )

    async def _abandon_if_unread(self, active: _ActiveRun) -> None:
        active.grace_timer = None
        if await self.store.add_subscriber(active.run_id, 0) == 0:
            logger.info(
                "run %s has had no reader for %ss: cancelling",
                active.run_id,
                self.settings.disconnect_grace_seconds,
            )
            self._cancel_local(active)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _track(self, coro: Any, name: str) -> asyncio.Task[None]:
        """A task that writes a run's log: shutdown waits for it to write its run.end."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drive(
        self, active: _ActiveRun, record: RunRecord, input_: Any, config: dict[str, Any]
    ) -> None:
        run_id = record.run_id
        writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
        translator = RawPassthrough() if record.mode == "raw" else Translator()
        started = time.monotonic()
        status = RunStatus.SUCCESS
        failure: Emitted = []
        try:
            await self.store.set_status(run_id, RunStatus.RUNNING)
            raw_events = self.graph.astream_events(
                input_, config, version="v2", stream_mode=STREAM_MODE
            )
            async with contextlib.aclosing(raw_events):
                async for raw in raw_events:
                    await writer.append(translator.translate(raw, now_ms()))
                    if active.cancelling:
                        # A cancel that lands inside the Redis client's own timeout handling
                        # can be swallowed there (redis-py on asyncio.timeout); honour it here.
                        raise asyncio.CancelledError
        except asyncio.CancelledError:
            # The log must still end with run.end, so the cancellation stops here.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = RunStatus.CANCELLED
        except AppendConflict:
            logger.warning("run %s was ended by another process; stopping it here", run_id)
            return
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
        if not await writer.end([*failure, (EventName.RUN_END, end)], status):
            logger.warning("run %s was ended by another process", run_id)

    def _forget(self, run_id: str) -> None:
        active = self._active.pop(run_id, None)
        if active is not None and active.grace_timer is not None:
            active.grace_timer.cancel()

    async def _listen(self) -> None:
        async for kind, run_id in self.store.control():
            active = self._active.get(run_id)
            if active is None:
                continue
            if kind == "cancel":
                self._cancel_local(active)
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
        try:
            record = await self.store.get_run(run_id)
        except StoreUnavailable:
            record = None  # the writer below retries; the record only names the owner
        if record is not None and record.status.finished:
            return
        owner = record.owner if record is not None else "unknown"
        error = WorkerLost(f"the process running this run ({owner}) stopped")
        writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
        ended = await writer.end(
            [
                (EventName.RUN_ERROR, {"error": error_info(error)}),
                (EventName.RUN_END, {"status": RunStatus.ERROR, "duration_ms": None}),
            ],
            RunStatus.ERROR,
            resync=True,
        )
        if ended:
            logger.warning("run %s lost its process %s: ended it", run_id, owner)

    async def shutdown(self) -> None:
        """Cancel every active run and wait until each has written its run.end."""
        for active in list(self._active.values()):
            self._cancel_local(active)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def close(self) -> None:
        await self.shutdown()
        # What is left is waiting for an unreachable store: another process ends those runs.
        leftover = [*self._background, *self._chores, *self._tasks]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
