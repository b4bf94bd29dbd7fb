"""A thread as one log: its runs' logs read in order, as the events of LangGraph's thread
streaming protocol, from any position, then live as the thread's next runs produce them.

Runs on a thread take turns (one is active, the rest queue behind it), so reading each run's
log to its end before the next one's is the order the thread lived them in, on every process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from app.dialects.langgraph.channels import (
    EVENT_SPAN,
    RUN_SPAN,
    ChannelEvent,
    RunChannels,
    ordinal_of,
    run_base,
)
from app.events import EventName
from app.runs import RunManager


class ResumeGap(Exception):
    """The cursor points at events that retention has dropped."""

    def __init__(self, since: int, oldest: int) -> None:
        super().__init__(
            f"events after seq {since} are no longer kept; the oldest available is {oldest}"
        )
        self.since = since
        self.oldest = oldest


class ThreadGone(Exception):
    """The thread was deleted, or belongs to someone else, while it was being read."""


@dataclass
class ThreadLog:
    manager: RunManager
    thread_id: str
    principal: str | None

    async def events(
        self, after: int | None = None, until: int | None = None
    ) -> AsyncIterator[list[ChannelEvent]]:
        """Batches of the thread's events after seq `after` (from its first without one), then
        live ones, for as long as the reader reads; with `until`, only those up to it."""
        ordinal = 0 if after is None else ordinal_of(after)
        while True:
            runs = await self._runs()
            while ordinal < len(runs):
                if until is not None and run_base(ordinal) >= until:
                    return
                async for batch in self._run_events(runs[ordinal], ordinal, after, until):
                    yield batch
                ordinal += 1
            if until is not None:
                return
            await self.manager.thread_bell.wait(
                self.thread_id, self.manager.settings.thread_poll_seconds
            )

    async def last_seq(self) -> int:
        """The seq a reader that has read everything so far is at (0 for an empty thread)."""
        runs = await self._runs()
        if not runs:
            return 0
        ordinal = len(runs) - 1
        record = await self.manager.store.get_run(runs[ordinal])
        events = record.events if record is not None else 0
        return run_base(ordinal) + events * EVENT_SPAN + EVENT_SPAN - 1

    async def _runs(self) -> list[str]:
        store = self.manager.store
        thread = await store.get_thread(self.thread_id)
        if thread is None:
            return []
        if thread.principal != self.principal:
            raise ThreadGone(self.thread_id)
        return [run["run_id"] for run in reversed(await store.thread_runs(self.thread_id))]

    async def _run_events(
        self, run_id: str, ordinal: int, after: int | None, until: int | None
    ) -> AsyncIterator[list[ChannelEvent]]:
        base = run_base(ordinal)
        if after is not None and after >= base + RUN_SPAN - 1:
            return
        record = await self.manager.store.get_run(run_id)
        if record is None:  # expired with its log
            if after is not None and after >= base:
                raise ResumeGap(after, base + RUN_SPAN)
            return
        read_to_end = after is not None and after >= base + (record.events + 1) * EVENT_SPAN - 1
        if read_to_end and record.status.finished:
            return
        channels = RunChannels(run_id, base)
        # From the log's start: a run's channels carry state (open messages and subgraphs)
        # that the events before the cursor set up.
        async with contextlib.aclosing(self.manager.follow(record, 0)) as batches:
            async for batch in batches:
                out: list[ChannelEvent] = []
                for event in batch:
                    if event.name == EventName.STREAM_GAP:
                        resumed_at = orjson.loads(_data_line(event.frame))["resumed_at"]
                        kept = base + resumed_at * EVENT_SPAN
                        if after is not None and base <= after < kept - 1:
                            raise ResumeGap(after, kept)
                        continue
                    out += [
                        channel_event
                        for channel_event in channels.events(event)
                        if (after is None or channel_event.seq > after)
                        and (until is None or channel_event.seq <= until)
                    ]
                if out:
                    yield out
                # A replay up to a position stops there, even while the run goes on.
                if until is not None and base + (batch[-1].seq + 1) * EVENT_SPAN - 1 >= until:
                    return


def _data_line(frame: bytes) -> bytes:
    start = frame.index(b"data: ") + 6
    return frame[start : frame.index(b"\n", start)]
