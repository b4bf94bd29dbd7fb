"""What every event store provides: a run's record, and its log of events read from a position."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.events import Event, RunStatus


@dataclass(slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    created_at: str
    mode: str = "events"
    on_disconnect: str = "continue"
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
    async def create_run(self, record: RunRecord) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def set_status(self, run_id: str, status: RunStatus, ended_at: str | None = None) -> None:
        """Record a status change; a finished run stays readable for the store's TTL."""

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        """Add events in seq order; the oldest are dropped beyond the retention limit."""

    def read(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        """Batches of the events after seq `after`: those kept, then live ones as they are
        appended, ending with run.end. A reader behind retention gets a stream.gap first."""
        ...

    async def close(self) -> None: ...
