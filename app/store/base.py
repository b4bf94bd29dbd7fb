"""What every event store provides: a run's record, its log of events read from a position, and
the little coordination that lets several server processes share runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.events import Event, RunStatus

ControlKind = Literal["cancel", "idle"]


class StoreUnavailable(Exception):
    """The store cannot be reached (after a short retry)."""


class AppendConflict(Exception):
    """The log no longer ends where the writer thinks: another process has ended the run."""


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
    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be used."""

    async def create_run(self, record: RunRecord, lease_seconds: float) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def set_status(self, run_id: str, status: RunStatus, ended_at: str | None = None) -> None:
        """Record a status change; a finished run stays readable for the store's TTL."""

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        """Add events in seq order; the oldest are dropped beyond the retention limit. A store
        may write them a moment later (see flush). Raises AppendConflict when the events do not
        follow the log's last one, and StoreUnavailable when the store cannot take them."""

    async def flush(self, run_id: str) -> None:
        """Wait until every event appended so far is stored; raises what appending raised."""

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

    async def renew_leases(self, run_ids: Sequence[str], lease_seconds: float) -> list[str]:
        """Extend the owner's lease on running runs; returns those it no longer holds."""
        ...

    async def claim_expired(self) -> list[str]:
        """Runs whose owner stopped renewing its lease, each claimed by one process only."""
        ...

    async def close(self) -> None: ...
