"""RunManager: starts runs as background tasks that write their log, and owns their lifecycle:
a run's turn on its thread, cancellation, the disconnect policy, the limit on active runs, and
(with a shared store) ending the runs of a process that has stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from langgraph.pregel import Pregel

from app.checkpointers import Checkpointing
from app.events import Event, EventName, RunStatus, now_ms
from app.graphs.factory import GraphFactory
from app.metrics import Metrics
from app.settings import DisconnectPolicy, Settings
from app.store.base import (
    AppendConflict,
    EventStore,
    MultitaskStrategy,
    RunRecord,
    StoreUnavailable,
    ThreadBusy,
    ThreadMissing,
    ThreadRecord,
    ThreadTurn,
)
from app.translate import (
    PendingInterrupt,
    RawPassthrough,
    Translator,
    error_info,
    interrupt_list,
    pending_interrupts,
    stream_modes,
    to_command,
)
from app.writer import Emitted, RunWriter, iso_now, until_stored

logger = logging.getLogger(__name__)


# Where a run's principal goes in its config's metadata, and so into its checkpoints'.
PRINCIPAL_KEY = "principal"


class AtCapacity(Exception):
    def __init__(self, limit: int, whose: str = "the gateway is") -> None:
        super().__init__(f"{whose} running its limit of {limit} runs; retry shortly")
        self.limit = limit


class WorkerLost(Exception):
    """The process running the run stopped."""


class CheckpointerRequired(Exception):
    """The graph paused at interrupt(), which needs a checkpointer to be resumed."""

    def __init__(self) -> None:
        super().__init__(
            "the graph called interrupt(), which needs a checkpointer to pause and resume: "
            "serve it with GATEWAY_CHECKPOINTER set (memory://, sqlite:///file.db or "
            "postgresql://…)"
        )


@dataclass(frozen=True)
class RunSpec:
    """What a run is asked to do: its input (or, to resume a thread, a command) and where."""

    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    on_disconnect: DisconnectPolicy | None = None
    mode: str = "events"
    thread_id: str | None = None
    strategy: MultitaskStrategy = MultitaskStrategy.REJECT
    # For a dialect: LangGraph server stream modes to record (translate.LANGGRAPH_MODES), more
    # arguments for the graph's astream (subgraphs, context, interrupt_before…), and what the
    # run's record keeps for it.
    recorded: frozenset[str] = frozenset()
    graph_options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    principal: str | None = None


class ThreadBell:
    """Rings when this process puts a run on a thread, for the thread's event streams here
    (those of other processes find it by looking: Settings.thread_poll_seconds)."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def ring(self, thread_id: str) -> None:
        for waiter in self._waiting.get(thread_id, ()):
            waiter.set()

    async def wait(self, thread_id: str, seconds: float) -> None:
        waiter = asyncio.Event()
        waiters = self._waiting.setdefault(thread_id, set())
        waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await waiter.wait()
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiting.pop(thread_id, None)


@dataclass
class _ActiveRun:
    run_id: str
    policy: DisconnectPolicy
    spec: RunSpec
    principal: str | None = None
    task: asyncio.Task[None] | None = None
    grace_timer: asyncio.TimerHandle | None = None
    cancelling: bool = False
    # Set when the run may start: at once, or when the runs before it on its thread have ended.
    turn: asyncio.Event = field(default_factory=asyncio.Event)


class RunManager:
    def __init__(
        self,
        checkpointing: Checkpointing,
        store: EventStore,
        settings: Settings,
        metrics: Metrics | None = None,
        factory: GraphFactory | None = None,
    ) -> None:
        self.checkpointing = checkpointing
        # What threads are read with; each run's own comes from the factory when there is one.
        self.graph = checkpointing.graph
        self.factory = factory
        self.store = store
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._active: dict[str, _ActiveRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._chores: set[asyncio.Task[Any]] = set()
        self.thread_bell = ThreadBell()

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
            await self.store.create_thread(
                ThreadRecord(
                    thread_id, created_at, created_at, implicit=True, principal=spec.principal
                )
            )
        record = RunRecord(
            run_id=uuid.uuid4().hex,
            status=RunStatus.PENDING,
            created_at=created_at,
            mode=spec.mode,
            on_disconnect=policy,
            owner=self.store.process_id,
            thread_id=thread_id,
            meta=spec.meta,
            principal=spec.principal,
        )
        await self.store.create_run(record)
        turn = ThreadTurn(started=True)
        if thread_id is not None:
            try:
                turn = await self._begin_on_thread(thread_id, record, spec.strategy)
            except (ThreadBusy, ThreadMissing):
                await self.store.discard_run(record.run_id)
                raise
        active = _ActiveRun(record.run_id, policy, spec, spec.principal)
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

    async def _begin_on_thread(
        self, thread_id: str, record: RunRecord, strategy: MultitaskStrategy
    ) -> ThreadTurn:
        try:
            return await self.store.begin_thread_run(thread_id, record, strategy)
        except ThreadBusy as exc:
            # A run that ended (or expired) without settling its thread holds it no more.
            active = await self.store.get_run(exc.active) if exc.active else None
            if exc.active is None or (active is not None and not active.status.finished):
                raise
            logger.warning("thread %s: run %s had ended; freeing the thread", thread_id, exc.active)
            stale = active or RunRecord(
                exc.active, RunStatus.ERROR, record.created_at, thread_id=thread_id
            )
            await self._settle(stale, [])
            return await self.store.begin_thread_run(thread_id, record, strategy)

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

    async def _drive(self, active: _ActiveRun, record: RunRecord) -> None:
        run_id, thread_id, spec = record.run_id, record.thread_id, active.spec
        writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
        translator = (
            RawPassthrough()
            if record.mode == "raw"
            else Translator(
                thread_id=thread_id,
                command=spec.command,
                recorded=spec.recorded,
                recorded_subgraphs=bool(spec.graph_options.get("subgraphs")),
            )
        )
        options = dict(spec.graph_options)
        if thread_id is not None and record.mode != "raw":
            # A thread's event stream shows subgraphs' writer events in their namespaces,
            # whoever started the run.
            options["subgraphs"] = True
        created = started = time.monotonic()
        status = RunStatus.SUCCESS
        tail: Emitted = []
        failure: dict[str, Any] | None = None
        metrics = self.metrics
        try:
            if not active.turn.is_set():
                await self._wait_for_turn(active, thread_id)
                started = time.monotonic()
            await self.store.set_status(run_id, RunStatus.RUNNING)
            config = self._config(spec.config, thread_id, run_id, spec.principal)
            input_ = to_command(spec.command) if spec.command is not None else spec.input
            async with contextlib.AsyncExitStack() as stack:
                graph = await stack.enter_async_context(
                    self._graph_for_run(config, spec.graph_options.get("context"))
                )
                raw_events = graph.astream_events(
                    input_,
                    config,
                    version="v2",
                    stream_mode=stream_modes(spec.recorded),
                    **options,
                )
                await stack.enter_async_context(contextlib.aclosing(raw_events))
                async for raw in raw_events:
                    emitted = translator.translate(raw, now_ms())
                    if not emitted:
                        continue
                    if writer.seq == 0:
                        metrics.first_event.observe(time.monotonic() - created)
                    await writer.append(emitted)
                    metrics.events_appended.inc(len(emitted))
                    if active.cancelling:
                        # A cancel that lands inside the Redis client's own timeout handling
                        # can be swallowed there (redis-py on asyncio.timeout); honour it here.
                        raise asyncio.CancelledError
            paused = await self._paused(thread_id) if thread_id is not None else None
            if paused is not None:
                status = RunStatus.INTERRUPTED
                tail = translator.interrupt(paused)
            elif translator.interrupted:
                raise CheckpointerRequired()
        except asyncio.CancelledError:
            # The log must still end with run.end, so the cancellation stops here.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = RunStatus.CANCELLED
        except AppendConflict:
            logger.warning("run %s was ended by another process; stopping it here", run_id)
            await until_stored(lambda: self.store.release_run(run_id), run_id)
            return
        except Exception as exc:
            logger.warning("run %s failed: %s: %s", run_id, type(exc).__name__, exc)
            status = RunStatus.ERROR
            tail = translator.fail(exc)
            failure = error_info(exc)
        finally:
            # From here on nothing can cancel the run: its last events are being written.
            self._forget(run_id)
        end: dict[str, Any] = {
            "status": status,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        if status is RunStatus.SUCCESS:
            end["output"] = translator.output
        # The thread first: a client that has read run.end then finds the thread moved on.
        record.status, record.ended_at = status, iso_now()
        interrupts = tail[0][1]["interrupts"] if status is RunStatus.INTERRUPTED else []
        try:
            await self._settle(record, interrupts, failure)
        except Exception:
            logger.exception("run %s: cannot update its thread %s", run_id, thread_id)
        if await writer.end([*tail, (EventName.RUN_END, end)], status) is None:
            logger.warning("run %s was ended by another process", run_id)
        metrics.events_appended.inc(len(tail) + 1)
        metrics.runs_ended.labels(str(status)).inc()
        metrics.run_duration.observe(end["duration_ms"] / 1000)
        logger.info(
            "run ended",
            extra={
                "event": "run.end",
                "run_id": run_id,
                "thread_id": thread_id,
                "principal": spec.principal,
                "status": str(status),
                "duration_ms": end["duration_ms"],
                "events": writer.seq,
                "error": failure,
            },
        )
        await until_stored(lambda: self.store.release_run(run_id), run_id)

    @contextlib.asynccontextmanager
    async def _graph_for_run(self, config: dict[str, Any], context: Any) -> AsyncIterator[Pregel]:
        if self.factory is None:
            yield self.graph
            return
        built = self.factory.built(config, for_run=True, store=self.graph.store, context=context)
        async with built as graph:
            saver = self.checkpointing.saver
            yield graph if saver is None else graph.copy(update={"checkpointer": saver})

    @staticmethod
    def _config(
        config: dict[str, Any],
        thread_id: str | None,
        run_id: str | None = None,
        principal: str | None = None,
    ) -> dict[str, Any]:
        # LangChain copies configurable's plain values into every event's metadata, where
        # LangGraph's server has them too; LangGraph keeps the metadata with each checkpoint.
        configurable = dict(config.get("configurable", {}))
        if thread_id is not None:
            configurable["thread_id"] = thread_id
        if run_id is not None:
            configurable["run_id"] = run_id
        config = {**config, "configurable": configurable} if configurable else config
        # Always set: a client's own metadata must not name another owner.
        return {**config, "metadata": {**config.get("metadata", {}), PRINCIPAL_KEY: principal}}

    async def _paused(self, thread_id: str) -> list[PendingInterrupt] | None:
        """What the thread waits on when its graph has paused; None when it has not."""
        snapshot = await self.graph.aget_state(self._config({}, thread_id), subgraphs=True)
        return pending_interrupts(snapshot)

    async def _wait_for_turn(self, active: _ActiveRun, thread_id: str | None) -> None:
        # Told by the process that ends the run before it (a "start" message); asking the
        # thread now and then covers a message lost with a Redis outage.
        assert thread_id is not None
        while not active.turn.is_set():
            thread = await self.store.get_thread(thread_id)
            if thread is None:
                raise ThreadMissing(thread_id)
            if thread.active_run == active.run_id:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.turn.wait(), self.settings.run_lease_seconds / 4)

    async def _settle(
        self,
        record: RunRecord,
        interrupts: list[dict[str, Any]],
        error: dict[str, Any] | None = None,
    ) -> None:
        """The thread's side of a run's end: its status, and the next queued run's turn."""
        thread_id = record.thread_id
        if thread_id is None:
            return
        expires_at = time.time() + self.settings.run_ttl_seconds
        next_run = await until_stored(
            lambda: self.store.finish_thread_run(thread_id, record, interrupts, error, expires_at),
            f"thread {thread_id}",
        )
        if next_run is not None:
            await self._give_turn(next_run)

    async def _give_turn(self, run_id: str) -> None:
        active = self._active.get(run_id)
        if active is not None:
            active.turn.set()
        else:
            with contextlib.suppress(StoreUnavailable):
                await self.store.publish("start", run_id)

    def _forget(self, run_id: str) -> None:
        active = self._active.pop(run_id, None)
        if active is not None:
            self.metrics.active_runs.dec()
        if active is not None and active.grace_timer is not None:
            active.grace_timer.cancel()

    async def _listen(self) -> None:
        async for kind, run_id in self.store.control():
            active = self._active.get(run_id)
            if active is None:
                continue
            if kind == "cancel":
                self._cancel_local(active)
            elif kind == "start":
                active.turn.set()
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
        failure: dict[str, Any] | None = None
        record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and not record.status.finished:
            error = WorkerLost(f"the process running this run ({record.owner}) stopped")
            writer = RunWriter(self.store, run_id, self.settings.max_payload_bytes)
            ended = await writer.end(
                [
                    (EventName.RUN_ERROR, {"error": error_info(error)}),
                    (EventName.RUN_END, {"status": RunStatus.ERROR, "duration_ms": None}),
                ],
                RunStatus.ERROR,
                resync=True,
            )
            if ended is not None:
                logger.warning("run %s lost its process %s: ended it", run_id, record.owner)
                failure = error_info(error)
            record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and record.status.finished:
            # Its process may have stopped between the run's end and its thread's bookkeeping.
            interrupts: list[dict[str, Any]] = []
            if record.status is RunStatus.INTERRUPTED and record.thread_id is not None:
                interrupts = interrupt_list(await self._paused(record.thread_id) or [])
            await self._settle(record, interrupts, failure)
        await until_stored(lambda: self.store.release_run(run_id), run_id)

    async def _expire_threads(self) -> None:
        """Threads made for one-shot runs go, checkpoints and all, with their last run."""
        saver = self.checkpointing.saver
        assert saver is not None
        interval = min(60.0, max(1.0, self.settings.run_ttl_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                for thread_id in await self.store.claim_expired_threads(time.time()):
                    await saver.adelete_thread(thread_id)
            except Exception as exc:  # a checkpointer or store hiccup: next round
                logger.warning("cannot expire threads: %s", exc)

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
