"""A thread as one log: its runs' logs read in order, as the events of LangGraph's thread
streaming protocol, from any position, then live as the thread's next runs produce them.

Runs on a thread take turns (one is active, the rest queue behind it), so reading each run's
log to its end before the next one's is the order the thread lived them in, on every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from langgraph.checkpoint.base import BaseCheckpointSaver

from app.dialects.langgraph.channels import (
    EVENT_SPAN,
    RUN_SPAN,
    ChannelEvent,
    Item,
    RunChannels,
    StateAt,
    numbered,
    ordinal_of,
    protocol_state,
    run_base,
)
from app.events import EventName
from app.payload import dumps
from app.runs import RunManager
from app.store.base import RunRecord

# With LangGraph's default durability ("async") a step's checkpoint is written while the next
# step runs: a reader that is right behind the run waits this long for it.
CHECKPOINT_WAIT_SECONDS = 2.0


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
    _seen: bool = False

    async def events(
        self, after: int | None = None, until: int | None = None
    ) -> AsyncIterator[list[ChannelEvent]]:
        """Batches of the thread's events after seq `after` (from its first without one), then
        live ones, for as long as the reader reads; with `until`, only those up to it."""
        first = 0 if after is None else ordinal_of(after)
        async with contextlib.aclosing(self.runs(first, follow=until is None)) as runs:
            async for ordinal, run_id in runs:
                if until is not None and run_base(ordinal) >= until:
                    return
                async for batch in self._run_events(run_id, ordinal, after, until):
                    yield batch

    async def runs(self, first: int = 0, *, follow: bool = True) -> AsyncIterator[tuple[int, str]]:
        """The thread's runs from number `first` (from 0), oldest first, with their numbers;
        with `follow`, then each next one as it is put on the thread, for as long as the reader
        reads. A reader reads each run's log to its end before asking for the next."""
        ordinal = first
        while True:
            runs = await self._runs()
            while ordinal < len(runs):
                yield ordinal, runs[ordinal]
                ordinal += 1
            if not follow:
                return
            await self.manager.thread_bell.wait(
                self.thread_id, self.manager.settings.thread_poll_seconds
            )

    async def run_ids(self) -> list[str]:
        """The thread's runs so far, oldest first."""
        return await self._runs()

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
            if self._seen:
                raise ThreadGone(self.thread_id)  # deleted
            return []  # not created yet: a client may name a thread before its first run
        if thread.principal != self.principal:
            raise ThreadGone(self.thread_id)
        self._seen = True
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
        states = RunStates(self.manager, self.thread_id, record)
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
                    ts, items = channels.items(event)
                    last = base + event.seq * EVENT_SPAN + EVENT_SPAN - 1
                    if not items or (after is not None and last <= after):
                        continue  # read already: only the channels' state was needed
                    if any(isinstance(item, StateAt) for item in items):
                        items = await states.expand(items)
                    out += [
                        channel_event
                        for channel_event in numbered(run_id, base, event.seq, ts, items)
                        if (after is None or channel_event.seq > after)
                        and (until is None or channel_event.seq <= until)
                    ]
                if out:
                    yield out
                # A replay up to a position stops there, even while the run goes on.
                if until is not None and base + (batch[-1].seq + 1) * EVENT_SPAN - 1 >= until:
                    return


@dataclass
class _Checkpoint:
    step: int
    id: str
    parent_id: str | None
    source: str | None
    channel_values: dict[str, Any]
    run_id: str | None

    def values(self) -> Any:
        return _state_values(self.channel_values)


def _checkpoint(item: Any) -> _Checkpoint:
    parent = (item.parent_config or {}).get("configurable", {})
    return _Checkpoint(
        step=item.metadata.get("step", -1),
        id=item.config["configurable"]["checkpoint_id"],
        parent_id=parent.get("checkpoint_id"),
        source=item.metadata.get("source"),
        channel_values=item.checkpoint.get("channel_values") or {},
        run_id=item.metadata.get("run_id"),
    )


@dataclass
class RunStates:
    """The checkpoints one run wrote, by namespace, read from the checkpointer when a reader
    first needs them (the log does not copy the state)."""

    manager: RunManager
    thread_id: str
    record: RunRecord
    _by_ns: dict[str, list[_Checkpoint]] | None = None
    _listed_live: bool = False

    @property
    def saver(self) -> BaseCheckpointSaver | None:
        return self.manager.checkpointing.saver

    async def expand(self, items: list[Item]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            out += await self._at(item) if isinstance(item, StateAt) else [item]
        return out

    async def _at(self, at: StateAt) -> list[Any]:
        if self.saver is None:
            return []
        ns = "|".join(at.ns)
        found = await self._resumed_from() if at.resumed else await self._in(ns, at)
        out: list[Any] = []
        for checkpoint in found:
            if checkpoint.source != "input":
                out.append(("values", at.ns, checkpoint.values(), None))
            data: dict[str, Any] = {
                "id": checkpoint.id,
                "step": checkpoint.step,
                "source": checkpoint.source,
            }
            if checkpoint.parent_id:
                data["parent_id"] = checkpoint.parent_id
            out.append(("checkpoints", at.ns, data, None))
        return out

    async def _in(self, ns: str, at: StateAt) -> list[_Checkpoint]:
        def wanted() -> list[_Checkpoint]:
            listed = (self._by_ns or {}).get(ns, [])
            return [c for c in listed if at.after < c.step <= at.upto]

        if self._by_ns is None or self._listed_live:
            await self._list()
        found = wanted()
        if not (self._listed_live and at.ours) or math.isinf(at.upto):
            return found
        if self._durability() == "exit":
            return found
        # The run is going on: the step just ended may not be written yet.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHECKPOINT_WAIT_SECONDS
        while not any(c.step == at.upto for c in found) and loop.time() < deadline:
            await asyncio.sleep(0.02)
            await self._list()
            found = wanted()
        return found

    async def _resumed_from(self) -> list[_Checkpoint]:
        """The root checkpoint the run went on from: the newest one before its own first
        (checkpoint ids grow with time), written by an earlier run or a state update."""
        assert self.saver is not None
        if self._by_ns is None:
            await self._list()
        own = (self._by_ns or {}).get("", [])
        first = min((c.id for c in own), default=None)
        config = {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": ""}}
        async for item in self.saver.alist(config):
            checkpoint = _checkpoint(item)
            if checkpoint.run_id == self.record.run_id:
                continue
            if first is None or checkpoint.id < first:
                return [checkpoint]
        return []

    def _durability(self) -> str | None:
        kwargs = self.record.meta.get("kwargs") or {}
        return kwargs.get("durability") if isinstance(kwargs, dict) else None

    async def _list(self) -> None:
        assert self.saver is not None
        record = await self.manager.store.get_run(self.record.run_id) or self.record
        self._listed_live = not record.status.finished
        by_ns: dict[str, list[_Checkpoint]] = {}
        config = {"configurable": {"thread_id": self.thread_id}}
        async for item in self.saver.alist(config, filter={"run_id": self.record.run_id}):
            namespace = item.config["configurable"].get("checkpoint_ns", "")
            by_ns.setdefault(namespace, []).append(_checkpoint(item))
        for checkpoints in by_ns.values():
            checkpoints.sort(key=lambda c: c.step)
        self._by_ns = by_ns


def _state_values(channel_values: dict[str, Any]) -> Any:
    # A checkpoint also keeps LangGraph's own channels ("__start__", "branch:to:<node>").
    state = {k: v for k, v in channel_values.items() if not k.startswith("__") and ":" not in k}
    return protocol_state(orjson.loads(dumps(state)))


def _data_line(frame: bytes) -> bytes:
    start = frame.index(b"data: ") + 6
    return frame[start : frame.index(b"\n", start)]
