"""What every event store provides: a run's record, its log of events read from a position, and
the little coordination that lets several server processes share runs."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from app.events import Event, RunStatus

# cancel: stop the run; idle: it may have no reader left; start: a queued run's turn has come.
ControlKind = Literal["cancel", "idle", "start"]
CONTROL_KINDS: frozenset[str] = frozenset(("cancel", "idle", "start"))


def new_process_id() -> str:
    """Unique per process and start: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class StoreUnavailable(Exception):
    """The store cannot be reached (after a short retry)."""


class ThreadBusy(Exception):
    """The thread has a run active or queued, and the new run's strategy is to reject."""

    def __init__(self, thread_id: str, active: str | None, queued: int) -> None:
        super().__init__(
            f"thread {thread_id!r} is busy: run {active!r} is active"
            + (f", {queued} queued" if queued else "")
        )
        self.thread_id = thread_id
        self.active = active
        self.queued = queued


class ThreadMissing(Exception):
    """No such thread (never created, deleted, or expired)."""


class AppendConflict(Exception):
    """The log no longer ends where the writer thinks: another writer got there first, or the
    log has ended (`ended`), after which nothing can be appended."""

    def __init__(self, message: str, *, ended: bool) -> None:
        super().__init__(message)
        self.ended = ended


@dataclass(frozen=True, slots=True)
class RunEnd:
    """Appended with a run's last event (its run.end): the log closes with it, and the run's
    final status is recorded in the same step."""

    status: RunStatus
    ended_at: str


@dataclass(slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    created_at: str
    mode: str = "events"
    on_disconnect: str = "continue"
    owner: str = ""
    ended_at: str | None = None
    events: int = 0
    thread_id: str | None = None
    # What a dialect needs to describe the run its way (LangGraph's assistant_id, metadata…).
    meta: dict[str, Any] = field(default_factory=dict)
    principal: str | None = None  # who started it; only they may read it
    # 1, then one more each time another process takes the run over once it had begun.
    attempt: int = 1
    lost: int = 0  # how many of its attempts stopped with their process (not handed over)

    def public(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "status": self.status,
            "events": self.events,
            "attempt": self.attempt,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }

    def summary(self) -> dict[str, Any]:
        """As a thread lists its runs."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }


class ThreadStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"  # a run is active or queued
    INTERRUPTED = "interrupted"  # its last run paused at interrupt(): waiting for a resume
    ERROR = "error"  # its last run failed


class MultitaskStrategy(StrEnum):
    """What a new run on a busy thread does."""

    REJECT = "reject"
    INTERRUPT = "interrupt"  # cancel the active run, then start
    ENQUEUE = "enqueue"  # start when the runs before it have ended


# The thread status a run leaves behind when it ends.
THREAD_STATUS_AFTER = {
    RunStatus.SUCCESS: ThreadStatus.IDLE,
    RunStatus.CANCELLED: ThreadStatus.IDLE,
    RunStatus.ERROR: ThreadStatus.ERROR,
    RunStatus.INTERRUPTED: ThreadStatus.INTERRUPTED,
}


@dataclass(slots=True)
class ThreadRecord:
    """What the gateway keeps of a thread; its state lives in the checkpointer."""

    thread_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: ThreadStatus = ThreadStatus.IDLE
    interrupts: list[dict[str, Any]] = field(default_factory=list)  # pending ones
    error: dict[str, Any] | None = None  # {"type", "message"} of its last run's failure
    active_run: str | None = None
    queued: list[str] = field(default_factory=list)
    # Made for a one-shot run: it expires with its last run (epoch seconds), unlike threads
    # created on purpose, which stay until deleted.
    expires_at: float | None = None
    implicit: bool = False
    principal: str | None = None  # who created it; only they may use it

    def public(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class ThreadTurn:
    """Where a new run stands on its thread."""

    started: bool  # it is the thread's active run now; otherwise it waits in the queue
    cancel: str | None = None  # with the interrupt strategy: the active run to cancel


class EventStore(Protocol):
    shared: bool  # several processes see its runs (one can continue another's)

    @property
    def process_id(self) -> str:
        """This process, as the owner of the runs it starts."""
        ...

    def instrument(self, retried: Callable[[], None], failed: Callable[[], None]) -> None:
        """Have the store say when a call was retried, and when one failed for good."""

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be used."""

    async def open(self, lease_seconds: float) -> None:
        """Announce this process, so another one can tell when it has stopped; raises
        StoreUnavailable when the store cannot be used."""

    async def create_run(self, record: RunRecord, spec: dict[str, Any] | None = None) -> None:
        """Record a new run; `spec` (JSON) is what another process needs to continue it."""

    async def run_spec(self, run_id: str) -> dict[str, Any] | None:
        """The spec the run was created with; None when none was kept."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def set_status(self, run_id: str, status: RunStatus) -> None:
        """Record that a run has moved on (pending → running); never changes an ended run. A
        run's final status is recorded by the append that ends its log."""

    async def append(
        self,
        run_id: str,
        events: Sequence[Event],
        end: RunEnd | None = None,
        owner: str | None = None,
    ) -> None:
        """Add events in seq order; the oldest are dropped beyond the retention limit. A store
        may write them a moment later (see flush). With `end`, the last event is the run's
        run.end: it closes the log and records the final status atomically, so whoever appends
        one first ends the run, and every later append is refused. With `owner`, the append
        lands only while that process owns the run (another may have taken it over). Raises
        AppendConflict when the events do not follow the log's last one, the log has ended or
        the run has another owner (`ended` for both), and StoreUnavailable when the store
        cannot take them."""

    async def flush(self, run_id: str) -> None:
        """Wait until every event appended so far is stored; raises what appending raised."""

    async def last_seq(self, run_id: str) -> int | None:
        """The seq of the log's last stored event (0 for none); None for an unknown run."""

    def read(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        """Batches of the events after seq `after`: those kept, then live ones as they are
        appended, ending with run.end. A reader behind retention gets a stream.gap first."""
        ...

    async def add_subscriber(self, run_id: str, delta: int) -> int:
        """Change the run's reader count, across every process; returns the new count."""
        ...

    async def publish(self, kind: ControlKind, run_id: str) -> None:
        """Tell the process that owns the run: cancel it, or it may have no reader left."""

    def control(self) -> AsyncIterator[tuple[ControlKind, str]]:
        """The messages published for runs, as they come."""
        ...

    async def claim_lost_runs(self) -> list[tuple[str, bool]]:
        """Runs whose process has stopped, or that a stopping process handed over, each to one
        caller only, to be continued or ended: (run id, handed over)."""
        ...

    async def take_run(self, run_id: str, handed_over: bool) -> RunRecord | None:
        """Make this process the owner of a claimed run that has not ended, counting a new
        attempt when it had begun (and a lost one unless it was handed over); from then on
        its former owner's appends are refused. None when the run has ended or is gone."""
        ...

    async def hand_over(self, run_id: str) -> None:
        """This process stops answering for a run that has not ended: another process claims
        it at once and continues it."""

    async def release_run(self, run_id: str) -> None:
        """This process no longer answers for the run: its end, and its thread's bookkeeping,
        are written."""

    async def discard_run(self, run_id: str) -> None:
        """Forget a run that never began (its thread refused it)."""

    async def delete_run(self, record: RunRecord) -> None:
        """Forget a finished run: its record, its log, its place among its thread's runs."""

    async def create_thread(self, record: ThreadRecord) -> bool:
        """False when a thread with that id exists."""
        ...

    async def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    async def delete_thread(self, thread_id: str) -> bool:
        """False when there is no such thread; ThreadBusy while a run is active or queued."""
        ...

    async def begin_thread_run(
        self, thread_id: str, run: RunRecord, strategy: MultitaskStrategy
    ) -> ThreadTurn:
        """Put a new run on its thread, atomically across processes: it starts now, waits
        behind the runs there, or (reject) raises ThreadBusy. ThreadMissing if none."""
        ...

    async def finish_thread_run(
        self,
        thread_id: str,
        run: RunRecord,
        interrupts: list[dict[str, Any]],
        error: dict[str, Any] | None,
        expires_at: float | None,
    ) -> str | None:
        """Record that a thread's run has ended (or left the queue), set the thread's status
        (with the run's pending interrupts or error), and make the next queued run active;
        returns that run's id, whose owner must start it. Does nothing for a run the thread
        no longer holds."""
        ...

    async def list_threads(self, principal: str | None) -> list[ThreadRecord]:
        """The principal's threads created on purpose (not those made for one-shot runs),
        newest first."""
        ...

    async def update_thread(
        self, thread_id: str, metadata: dict[str, Any], updated_at: str
    ) -> ThreadRecord | None:
        """Merge `metadata` into the thread's (a shallow merge); None if there is no thread."""
        ...

    async def reset_thread(
        self,
        thread_id: str,
        status: ThreadStatus,
        interrupts: list[dict[str, Any]],
        updated_at: str,
    ) -> bool:
        """After its state was changed outside a run (idle, or interrupted with `interrupts`).
        False, and nothing changed, while a run is active or queued."""
        ...

    async def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's runs, newest first, as RunRecord.summary() gives them."""
        ...

    async def claim_expired_threads(self, now: float) -> list[str]:
        """Delete the threads made for one-shot runs whose time is up (and that no run has
        taken since); returns their ids, each to one caller, which deletes their checkpoints."""
        ...

    # Records: JSON documents by kind and key (assistants), shared like everything here.

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None: ...

    async def list_records(self, kind: str) -> list[dict[str, Any]]: ...

    async def put_record(
        self, kind: str, key: str, value: dict[str, Any], *, revision: int | None
    ) -> bool:
        """Write `value` (whose `revision` field counts its writes): only when there is none
        yet (`revision` None), or only over the one of that `revision`. False, and nothing
        written, otherwise: another writer came first."""
        ...

    async def delete_record(self, kind: str, key: str) -> bool: ...

    async def close(self) -> None: ...
