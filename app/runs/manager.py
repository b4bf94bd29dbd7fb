"""RunManager: starting, cancelling and stopping runs, made of the parts that drive them,
give them their turn on a thread, follow their readers and watch other processes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from langgraph.pregel import Pregel

from app.checkpointers import Checkpointing
from app.events import RunStatus
from app.graphs import ServedGraph
from app.metrics import Metrics
from app.runs.driving import Driving
from app.runs.liveness import Liveness
from app.runs.readers import Readers
from app.runs.spec import ActiveRun, AtCapacity, Draining, RunSpec
from app.runs.takeover import Takeover
from app.runs.turns import ThreadBell, ThreadTurns
from app.settings import DisconnectPolicy, Settings
from app.store.base import (
    EventStore,
    RunRecord,
    ThreadBusy,
    ThreadMissing,
    ThreadRecord,
    ThreadTurn,
)
from app.webhooks import RunEnded, Webhooks
from app.writer import iso_now

logger = logging.getLogger(__name__)


class RunManager(Driving, ThreadTurns, Readers, Liveness, Takeover):
    """Starts runs as background tasks that write their log, and owns their lifecycle; each
    job is a part of its own (driving.py, turns.py, readers.py, liveness.py, takeover.py)."""

    def __init__(
        self,
        checkpointing: Checkpointing,
        store: EventStore,
        settings: Settings,
        metrics: Metrics | None = None,
        graphs: dict[str, ServedGraph] | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.checkpointing = checkpointing
        # What threads are read with, by graph id (the first, the default); each run's own
        # graph comes from its graph's factory when there is one.
        self.graph = checkpointing.graph
        self.graphs = graphs or {checkpointing.graph.get_name(): ServedGraph(self.graph)}
        self.default_graph = next(iter(self.graphs))
        self.store = store
        self.settings = settings
        self.metrics = metrics or Metrics()
        # None: no dialect here takes webhooks.
        self.webhooks = webhooks
        self._active: dict[str, ActiveRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._chores: set[asyncio.Task[Any]] = set()
        self.thread_bell = ThreadBell()
        self.draining = False

    def served(self, graph_id: str | None) -> ServedGraph:
        """The graph of that id; the default one for none (or one no longer served)."""
        return self.graphs.get(graph_id or self.default_graph) or self.graphs[self.default_graph]

    def graph_for(self, graph_id: str | None) -> Pregel:
        return self.served(graph_id).graph

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
        if self.checkpointing.saver is not None:
            self._background.append(
                asyncio.create_task(self._expire_threads(), name="expire-threads")
            )

    async def start(self, spec: RunSpec) -> RunRecord:
        """Create the run and start it, or queue it behind the runs on its thread. With a
        checkpointer, a run given no thread gets one of its own, so it can pause and resume.
        Raises ThreadBusy or ThreadMissing for a thread that cannot take it."""
        if self.draining:
            raise Draining()
        if len(self._active) >= self.settings.max_runs:
            raise AtCapacity(self.settings.max_runs)
        limit = self.settings.max_runs_per_principal
        if spec.principal is not None and self._runs_of(spec.principal) >= limit:
            raise AtCapacity(limit, f"{spec.principal} is")
        policy = spec.on_disconnect or self.settings.on_disconnect
        thread_id = spec.thread_id
        created_at = iso_now()
        if thread_id is None and self.checkpointing.enabled:
            thread_id = uuid.uuid4().hex
            # (Its graph named, as on every thread, when it is not the default one.)
            graph_id = spec.config.get("configurable", {}).get("graph_id")
            named = {"graph_id": graph_id} if graph_id not in (None, self.default_graph) else {}
            await self.store.create_thread(
                ThreadRecord(
                    thread_id,
                    created_at,
                    created_at,
                    named,
                    implicit=True,
                    principal=spec.principal,
                )
            )
        record = RunRecord(
            run_id=spec.run_id or uuid.uuid4().hex,
            status=RunStatus.PENDING,
            created_at=created_at,
            mode=spec.mode,
            on_disconnect=policy,
            owner=self.store.process_id,
            thread_id=thread_id,
            meta=spec.meta,
            principal=spec.principal,
        )
        # Kept when another process could continue the run, should this one stop.
        await self.store.create_run(record, spec.to_json() if self.continues_runs else None)
        turn = ThreadTurn(started=True)
        if thread_id is not None:
            try:
                turn = await self._begin_on_thread(thread_id, record, spec.strategy)
            except (ThreadBusy, ThreadMissing):
                await self.store.discard_run(record.run_id)
                raise
        active = ActiveRun(record.run_id, policy, spec, spec.principal)
        if turn.started:
            active.turn.set()
        self._active[record.run_id] = active
        if thread_id is not None:
            self.thread_bell.ring(thread_id)
        self.metrics.runs_started.inc()
        self.metrics.active_runs.inc()
        logger.info(
            "run started",
            extra={
                "event": "run.start",
                "run_id": record.run_id,
                "thread_id": thread_id,
                "principal": spec.principal,
            },
        )
        active.task = self._track(self._drive(active, record), name=f"run-{record.run_id}")
        if policy is DisconnectPolicy.CANCEL:
            # A run nobody ever attaches to is abandoned too.
            self._arm_grace_timer(active)
        if turn.cancel is not None:
            await self.cancel(turn.cancel)
        return record

    def _runs_of(self, principal: str) -> int:
        return sum(1 for active in self._active.values() if active.principal == principal)

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

    def _cancel_local(self, active: ActiveRun) -> None:
        # Once only: a second cancel would interrupt the run while it writes its run.end.
        if active.task is not None and not active.cancelling:
            active.cancelling = True
            active.task.cancel()

    def _ended(self, ended: RunEnded) -> None:
        """A run this process ended (its run.end is in the log): its webhook, if it named one.
        Only the process whose run.end landed gets here, so one delivery per run end."""
        if self.webhooks is not None:
            self.webhooks.send(ended)

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

    def _forget(self, run_id: str) -> None:
        active = self._active.pop(run_id, None)
        if active is not None:
            self.metrics.active_runs.dec()
        if active is not None and active.grace_timer is not None:
            active.grace_timer.cancel()

    async def drain(self) -> None:
        """Stop as a deploy asks: start no new runs (and take over none), let the running ones
        finish within Settings.drain_seconds, then hand the rest to the other processes, which
        continue them from their checkpoints (or, when none can, cancel them)."""
        if self.draining:
            return
        self.draining = True
        for task in self._background:
            if task.get_name() == "lost-runs":
                task.cancel()
        seconds = self.settings.drain_seconds
        logger.warning("draining: %d runs have %ss to finish", len(self._active), seconds)
        runs = [active.task for active in self._active.values() if active.task is not None]
        if runs and seconds > 0:
            await asyncio.wait(runs, timeout=seconds)
        hand_over = self.continues_runs
        if self._active:
            logger.warning(
                "drained: %s %d runs",
                "handing over" if hand_over else "cancelling",
                len(self._active),
            )
        for active in list(self._active.values()):
            if not active.cancelling:
                active.handing_over = hand_over
            self._cancel_local(active)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def shutdown(self) -> None:
        """Cancel every active run and wait until each has written its run.end."""
        for active in list(self._active.values()):
            self._cancel_local(active)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def close(self) -> None:
        await self.shutdown()
        if self.webhooks is not None:
            await self.webhooks.close()
        # What is left is waiting for an unreachable store: another process ends those runs.
        leftover = [*self._background, *self._chores, *self._tasks]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
