"""What every event store provides: a run's record, its log of events read from a position, and
the little coordination that lets several server processes share runs."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.events import Event, RunStatus

ControlKind = Literal["cancel", "idle"]


def new_process_id() -> str:
    """Unique per process and start: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class StoreUnavailable(Exception):
    """The store cannot be reached (after a short retry)."""


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

    def public(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "events": self.events,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }


class EventStore(Protocol):
    @property
    def process_id(self) -> str:
        """This process, as the owner of the runs it starts."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be used."""

    async def open(self, lease_seconds: float) -> None:
        """Announce this process, so another one can tell when it has stopped; raises
        StoreUnavailable when the store cannot be used."""

    async def create_run(self, record: RunRecord) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def set_status(self, run_id: str, status: RunStatus) -> None:
        """Record that a run has moved on (pending → running); never changes an ended run. A
        run's final status is recorded by the append that ends its log."""

    async def append(self, run_id: str, events: Sequence[Event], end: RunEnd | None = None) -> None:
        """Add events in seq order; the oldest are dropped beyond the retention limit. A store
        may write them a moment later (see flush). With `end`, the last event is the run's
        run.end: it closes the log and records the final status atomically, so whoever appends
        one first ends the run, and every later append is refused. Raises AppendConflict when
        the events do not follow the log's last one or the log has ended, and StoreUnavailable
        when the store cannot take them."""

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

    async def claim_lost_runs(self) -> list[str]:
        """Runs whose process has stopped, each handed to one caller only, to be ended."""
        ...

    async def close(self) -> None: ...
