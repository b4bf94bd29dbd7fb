"""The embedded store: each run's events in a bounded deque, readers woken by an asyncio.Event."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from app.events import Event, EventName, RunStatus
from app.store.base import (
    THREAD_STATUS_AFTER,
    AppendConflict,
    ControlKind,
    MultitaskStrategy,
    RunEnd,
    RunRecord,
    ThreadBusy,
    ThreadMissing,
    ThreadRecord,
    ThreadStatus,
    ThreadTurn,
    new_process_id,
)

GapFactory = Callable[[str, int, int], Event]
READ_BATCH = 1024


class _RunLog:
    __slots__ = ("changed", "closed", "ended", "events", "last_seq")

    def __init__(self, max_events: int) -> None:
        self.events: deque[Event] = deque(maxlen=max_events)
        self.last_seq = 0
        self.ended = False  # its run.end is in
        self.closed = False  # evicted
        self.changed: asyncio.Event | None = None

    def wake_readers(self) -> None:
        if self.changed is not None:
            self.changed.set()
            self.changed = None

    async def wait(self) -> None:
        if self.changed is None:
            self.changed = asyncio.Event()
        await self.changed.wait()

    def first_seq(self) -> int:
        return self.events[0].seq if self.events else self.last_seq + 1


class MemoryStore:
    """One process's runs. It coordinates nothing: every run here is owned by this process."""

    # Its runs live and die with this process: none is ever continued by another.
    shared = False

    def __init__(
        self, *, max_events_per_run: int, run_ttl_seconds: float, gap_event: GapFactory
    ) -> None:
        self._max_events = max_events_per_run
        self._ttl = run_ttl_seconds
        self._gap_event = gap_event
        self._runs: dict[str, RunRecord] = {}
        self._logs: dict[str, _RunLog] = {}
        self._evictions: dict[str, asyncio.TimerHandle] = {}
        self._subscribers: dict[str, int] = {}
        self._control: asyncio.Queue[tuple[ControlKind, str]] = asyncio.Queue()
        self._process_id = new_process_id()
        self._threads: dict[str, ThreadRecord] = {}
        # A thread's runs in creation order; the records outlive the runs' own eviction.
        self._thread_runs: dict[str, dict[str, RunRecord]] = {}
        self._records: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def process_id(self) -> str:
        return self._process_id

    def instrument(self, retried: Callable[[], None], failed: Callable[[], None]) -> None:
        return None  # it never fails

    async def ping(self) -> None:
        return None

    async def open(self, lease_seconds: float) -> None:
        return None

    async def create_run(self, record: RunRecord, spec: dict[str, Any] | None = None) -> None:
        # No other process can continue a run here: its spec is not kept.
        self._runs[record.run_id] = record
        self._logs[record.run_id] = _RunLog(self._max_events)

    async def run_spec(self, run_id: str) -> dict[str, Any] | None:
        return None

    async def get_run(self, run_id: str) -> RunRecord | None:
        record = self._runs.get(run_id)
        if record is not None:
            record.events = self._logs[run_id].last_seq
        return record

    async def set_status(self, run_id: str, status: RunStatus) -> None:
        record = self._runs.get(run_id)
        if record is not None and not self._logs[run_id].ended:
            record.status = status

    async def append(
        self,
        run_id: str,
        events: Sequence[Event],
        end: RunEnd | None = None,
        owner: str | None = None,
    ) -> None:
        log = self._logs.get(run_id)
        if log is None or log.ended:
            raise AppendConflict(f"run {run_id}: its log has ended", ended=True)
        if events[0].seq != log.last_seq + 1:
            raise AppendConflict(
                f"run {run_id}: log ends at {log.last_seq}, not {events[0].seq - 1}", ended=False
            )
        log.events.extend(events)
        log.last_seq = events[-1].seq
        if end is not None:
            log.ended = True
            record = self._runs[run_id]
            record.status = end.status
            record.ended_at = end.ended_at
            loop = asyncio.get_running_loop()
            self._evictions[run_id] = loop.call_later(self._ttl, self._evict, run_id)
        log.wake_readers()

    async def flush(self, run_id: str) -> None:
        return None

    async def last_seq(self, run_id: str) -> int | None:
        log = self._logs.get(run_id)
        return None if log is None else log.last_seq

    async def read(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        log = self._logs.get(run_id)
        while log is not None and not log.closed:
            first = log.first_seq()
            if after < first - 1:
                yield [self._gap_event(run_id, after, first)]
                after = first - 1
            start = after - first + 1
            if start < len(log.events):
                batch = list(itertools.islice(log.events, start, start + READ_BATCH))
                yield batch
                after = batch[-1].seq
                if batch[-1].name == EventName.RUN_END:
                    return
            else:
                await log.wait()

    async def add_subscriber(self, run_id: str, delta: int) -> int:
        count = self._subscribers.get(run_id, 0) + delta
        if count:
            self._subscribers[run_id] = count
        else:
            self._subscribers.pop(run_id, None)
        return count

    async def publish(self, kind: ControlKind, run_id: str) -> None:
        self._control.put_nowait((kind, run_id))

    async def control(self) -> AsyncIterator[tuple[ControlKind, str]]:
        while True:
            yield await self._control.get()

    async def claim_lost_runs(self) -> list[tuple[str, bool]]:
        return []

    async def take_run(self, run_id: str, handed_over: bool) -> RunRecord | None:
        return None

    async def hand_over(self, run_id: str) -> None:
        return None

    async def release_run(self, run_id: str) -> None:
        return None

    async def discard_run(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._logs.pop(run_id, None)

    async def delete_run(self, record: RunRecord) -> None:
        if record.thread_id is not None:
            self._thread_runs.get(record.thread_id, {}).pop(record.run_id, None)
        self._evict(record.run_id)

    async def create_thread(self, record: ThreadRecord) -> bool:
        if record.thread_id in self._threads:
            return False
        self._threads[record.thread_id] = record
        self._thread_runs[record.thread_id] = {}
        return True

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return self._threads.get(thread_id)

    async def delete_thread(self, thread_id: str) -> bool:
        thread = self._threads.get(thread_id)
        if thread is None:
            return False
        if thread.active_run is not None or thread.queued:
            raise ThreadBusy(thread_id, thread.active_run, len(thread.queued))
        del self._threads[thread_id]
        del self._thread_runs[thread_id]
        return True

    async def begin_thread_run(
        self, thread_id: str, run: RunRecord, strategy: MultitaskStrategy
    ) -> ThreadTurn:
        thread = self._threads.get(thread_id)
        if thread is None:
            raise ThreadMissing(thread_id)
        busy = thread.active_run is not None or bool(thread.queued)
        if busy and strategy is MultitaskStrategy.REJECT:
            raise ThreadBusy(thread_id, thread.active_run, len(thread.queued))
        self._thread_runs[thread_id][run.run_id] = self._runs.get(run.run_id, run)
        thread.expires_at = None
        thread.updated_at = run.created_at
        if not busy:
            _activate(thread, run.run_id)
            return ThreadTurn(started=True)
        if strategy is MultitaskStrategy.INTERRUPT:
            thread.queued.insert(0, run.run_id)
            return ThreadTurn(started=False, cancel=thread.active_run)
        thread.queued.append(run.run_id)
        return ThreadTurn(started=False)

    async def finish_thread_run(
        self,
        thread_id: str,
        run: RunRecord,
        interrupts: list[dict[str, Any]],
        error: dict[str, Any] | None,
        expires_at: float | None,
    ) -> str | None:
        thread = self._threads.get(thread_id)
        if thread is None:
            return None
        thread.updated_at = run.ended_at or thread.updated_at
        if thread.active_run != run.run_id:
            if run.run_id in thread.queued:
                thread.queued.remove(run.run_id)
            return None
        if thread.queued:
            _activate(thread, thread.queued.pop(0))
            return thread.active_run
        thread.active_run = None
        thread.status = THREAD_STATUS_AFTER[run.status]
        thread.interrupts = interrupts
        thread.error = error
        thread.expires_at = expires_at if thread.implicit else None
        return None

    async def list_threads(self, principal: str | None) -> list[ThreadRecord]:
        return [
            t
            for t in reversed(self._threads.values())
            if not t.implicit and t.principal == principal
        ]

    async def update_thread(
        self, thread_id: str, metadata: dict[str, Any], updated_at: str
    ) -> ThreadRecord | None:
        thread = self._threads.get(thread_id)
        if thread is not None:
            thread.metadata = {**thread.metadata, **metadata}
            thread.updated_at = updated_at
        return thread

    async def reset_thread(
        self,
        thread_id: str,
        status: ThreadStatus,
        interrupts: list[dict[str, Any]],
        updated_at: str,
    ) -> bool:
        thread = self._threads.get(thread_id)
        if thread is None or thread.active_run is not None or thread.queued:
            return False
        thread.status = status
        thread.interrupts = interrupts
        thread.error = None
        thread.updated_at = updated_at
        return True

    async def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        runs = self._thread_runs.get(thread_id, {})
        return [record.summary() for record in reversed(runs.values())]

    async def claim_expired_threads(self, now: float) -> list[str]:
        expired = [
            thread_id
            for thread_id, thread in self._threads.items()
            if thread.expires_at is not None and thread.expires_at <= now
        ]
        for thread_id in expired:
            del self._threads[thread_id]
            del self._thread_runs[thread_id]
        return expired

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._records.get(kind, {}).get(key)
        return copy.deepcopy(found)

    async def list_records(self, kind: str) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._records.get(kind, {}).values()))

    async def put_record(
        self, kind: str, key: str, value: dict[str, Any], *, revision: int | None
    ) -> bool:
        records = self._records.setdefault(kind, {})
        current = records.get(key)
        if (current is None) != (revision is None):
            return False
        if current is not None and current.get("revision") != revision:
            return False
        records[key] = copy.deepcopy(value)
        return True

    async def delete_record(self, kind: str, key: str) -> bool:
        return self._records.get(kind, {}).pop(key, None) is not None

    def _evict(self, run_id: str) -> None:
        self._evictions.pop(run_id, None)
        self._runs.pop(run_id, None)
        log = self._logs.pop(run_id, None)
        if log is not None:
            log.closed = True
            log.wake_readers()

    async def close(self) -> None:
        for handle in self._evictions.values():
            handle.cancel()
        for run_id in list(self._logs):
            self._evict(run_id)


def _activate(thread: ThreadRecord, run_id: str) -> None:
    thread.active_run = run_id
    thread.status = ThreadStatus.BUSY
    thread.interrupts = []
    thread.error = None
