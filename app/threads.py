"""Threads: a line of runs over one checkpoint history.

LangGraph's checkpointer keeps a thread's state; the event store keeps the thread's record
(status, runs, pending interrupts), so both stores coordinate threads as they coordinate runs.
This module checks what clients ask of threads and answers from those two; it never copies
state out of the checkpointer.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import orjson
from langgraph.errors import InvalidUpdateError
from langgraph.pregel import Pregel
from langgraph.types import StateUpdate

from app.errors import ApiError
from app.payload import dumps
from app.runs import PRINCIPAL_KEY, RunManager, RunSpec
from app.store.base import (
    RunRecord,
    ThreadBusy,
    ThreadMissing,
    ThreadRecord,
    ThreadStatus,
)
from app.translate import interrupt_list, pending_interrupts, state_view, to_command
from app.writer import iso_now

# LangGraph reads a resume value as a map of interrupt ids to answers when every key looks
# like an interrupt id (an xxh3-128 hex digest); otherwise it is one answer.
INTERRUPT_ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_HISTORY = 1000


def thread_not_found(thread_id: str) -> ApiError:
    return ApiError(404, "thread_not_found", f"no thread {thread_id!r} (unknown, or deleted)")


def thread_busy(exc: ThreadBusy) -> ApiError:
    return ApiError(
        409,
        "thread_busy",
        f"{exc}; multitask_strategy 'enqueue' waits for it, 'interrupt' cancels it",
        details={"active_run": exc.active, "queued": exc.queued},
    )


class Threads:
    """Threads as one principal sees them: their own, and no other's (which answer 404, as if
    they did not exist)."""

    def __init__(self, manager: RunManager, principal: str | None = None) -> None:
        self.manager = manager
        self.store = manager.store
        self.checkpointing = manager.checkpointing
        self.principal = principal

    def scoped(self, principal: str | None) -> Threads:
        return Threads(self.manager, principal)

    def _graph(self, thread: ThreadRecord) -> Pregel:
        """The graph the thread's state is read with: the one it ran (a thread is one
        graph's; one that names none is the default graph's)."""
        return self.manager.graph_for(thread.metadata.get("graph_id"))

    def _graph_of(self, spec: RunSpec) -> str:
        """The graph a run names (its config's `graph_id`), which must be served here."""
        graph_id = spec.config.get("configurable", {}).get("graph_id")
        if graph_id is None:
            return self.manager.default_graph
        if graph_id not in self.manager.graphs:
            served = ", ".join(self.manager.graphs)
            raise ApiError(
                422, "unknown_graph", f"graph {graph_id!r} is not served here (served: {served})"
            )
        return str(graph_id)

    def _require_checkpointer(self) -> None:
        if not self.checkpointing.enabled:
            hint = (
                "GATEWAY_CHECKPOINTER=postgresql://user:pass@host:port/db"
                if not self.manager.settings.store_url.startswith("memory")
                else "GATEWAY_CHECKPOINTER (memory://, sqlite:///file.db or postgresql://…)"
            )
            raise ApiError(
                501, "threads_disabled", f"threads need a checkpointer, and none is set: set {hint}"
            )

    async def create(
        self, thread_id: str | None, metadata: dict[str, Any], *, if_exists: str = "raise"
    ) -> ThreadRecord:
        """A new thread; with if_exists "do_nothing", an existing one is returned as it is."""
        self._require_checkpointer()
        now = iso_now()
        record = ThreadRecord(
            thread_id or uuid.uuid4().hex, now, now, metadata, principal=self.principal
        )
        if await self.store.create_thread(record):
            return record
        if if_exists == "do_nothing":
            return await self.get(record.thread_id)
        raise ApiError(409, "thread_exists", f"thread {record.thread_id!r} exists already")

    async def copy(self, thread_id: str, new_id: str | None = None) -> ThreadRecord:
        """A new thread with the same metadata and every checkpoint (and pending write) of
        this one, oldest first, so its history and state are the same: a fork of it all."""
        source = await self.get(thread_id)
        saver = self.manager.checkpointing.saver
        assert saver is not None  # (get() needs a checkpointer)
        copy = await self.create(new_id, dict(source.metadata))
        found = [t async for t in saver.alist({"configurable": {"thread_id": thread_id}})]
        for checkpoint in reversed(found):
            namespace = checkpoint.config["configurable"].get("checkpoint_ns", "")
            parent = (checkpoint.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            target = {"thread_id": copy.thread_id, "checkpoint_ns": namespace}
            written = await saver.aput(
                {"configurable": {**target, "checkpoint_id": parent}},
                checkpoint.checkpoint,
                checkpoint.metadata,
                checkpoint.checkpoint.get("channel_versions", {}),
            )
            by_task: dict[str, list[tuple[str, Any]]] = {}
            for task_id, channel, value in checkpoint.pending_writes or ():
                by_task.setdefault(task_id, []).append((channel, value))
            for task_id, writes in by_task.items():
                await saver.aput_writes(written, writes, task_id)
        snapshot = await self._graph(source).aget_state(
            self._config(copy.thread_id), subgraphs=True
        )
        pending = pending_interrupts(snapshot)
        if pending:
            await self.store.reset_thread(
                copy.thread_id, ThreadStatus.INTERRUPTED, interrupt_list(pending), iso_now()
            )
        return await self.get(copy.thread_id)

    async def update(self, thread_id: str, metadata: dict[str, Any]) -> ThreadRecord:
        await self.get(thread_id)
        record = await self.store.update_thread(thread_id, metadata, iso_now())
        if record is None:
            raise thread_not_found(thread_id)
        return record

    async def search(
        self,
        *,
        ids: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: ThreadStatus | None = None,
    ) -> list[ThreadRecord]:
        """Threads created on purpose, newest first, whose metadata holds `metadata` and whose
        latest state holds `values` (JSON containment, as LangGraph's server filters)."""
        self._require_checkpointer()
        found = [
            thread
            for thread in await self.store.list_threads(self.principal)
            if (ids is None or thread.thread_id in ids)
            and (status is None or thread.status == status)
            and contains(thread.metadata, metadata or {})
        ]
        if not values:
            return found
        held = []
        for thread in found:
            snapshot = await self._graph(thread).aget_state(self._config(thread.thread_id))
            state = orjson.loads(dumps(snapshot.values or {}))
            if contains(state, values):
                held.append(thread)
        return held

    async def snapshot(
        self, thread_id: str, *, subgraphs: bool = False, checkpoint: dict[str, Any] | None = None
    ) -> Any:
        """The thread's StateSnapshot (at `checkpoint`, else the latest) from the graph."""
        thread = await self.get(thread_id)
        config = self._config(thread_id, checkpoint)
        return await self._graph(thread).aget_state(config, subgraphs=subgraphs)

    async def snapshots(
        self,
        thread_id: str,
        *,
        limit: int,
        before: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> list[Any]:
        """Earlier StateSnapshots, newest first."""
        if not 1 <= limit <= MAX_HISTORY:
            raise ApiError(422, "invalid_limit", f"limit must be 1 to {MAX_HISTORY}")
        thread = await self.get(thread_id)
        states = self._graph(thread).aget_state_history(
            self._config(thread_id, checkpoint),
            limit=limit,
            before=self._config(thread_id, before) if before else None,
            filter=metadata or None,
        )
        return [snapshot async for snapshot in states]

    async def update_state(
        self,
        thread_id: str,
        values: Any,
        *,
        as_node: str | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write `values` into the thread's state as node `as_node` would (LangGraph's
        update_state); refused while a run holds the thread. Returns the new checkpoint's
        config."""
        thread = await self.get(thread_id)
        if thread.active_run is not None or thread.queued:
            raise thread_busy(ThreadBusy(thread_id, thread.active_run, len(thread.queued)))
        graph = self._graph(thread)
        try:
            written = await graph.aupdate_state(
                self._config(thread_id, checkpoint), values, as_node=as_node
            )
        # An unknown node, an update the state cannot take (LangGraph's InvalidUpdateError,
        # e.g. a list where a node returns a dict): the client's, so 400 as LangGraph's server.
        except (ValueError, KeyError, TypeError, InvalidUpdateError) as exc:
            raise ApiError(400, "invalid_update", str(exc)) from exc
        pending = pending_interrupts(
            await graph.aget_state(self._config(thread_id), subgraphs=True)
        )
        status = ThreadStatus.IDLE if pending is None else ThreadStatus.INTERRUPTED
        await self.store.reset_thread(thread_id, status, interrupt_list(pending or []), iso_now())
        return written  # type: ignore[no-any-return]

    async def write_supersteps(
        self, thread_id: str, supersteps: list[list[dict[str, Any]]]
    ) -> None:
        """A thread's history written step by step, as if its nodes had run (LangGraph's bulk
        update: each superstep's updates are one step). Refused while a run holds it."""
        thread = await self.get(thread_id)
        if thread.active_run is not None or thread.queued:
            raise thread_busy(ThreadBusy(thread_id, thread.active_run, len(thread.queued)))
        graph = self._graph(thread)
        steps = [
            [
                StateUpdate(to_command(u["command"]))
                if "command" in u
                else StateUpdate(u["values"], u.get("as_node"))
                for u in step
            ]
            for step in supersteps
        ]
        try:
            await graph.abulk_update_state(self._config(thread_id), steps)
        except (ValueError, KeyError, TypeError, InvalidUpdateError) as exc:
            raise ApiError(400, "invalid_update", str(exc)) from exc
        pending = pending_interrupts(
            await graph.aget_state(self._config(thread_id), subgraphs=True)
        )
        status = ThreadStatus.IDLE if pending is None else ThreadStatus.INTERRUPTED
        await self.store.reset_thread(thread_id, status, interrupt_list(pending or []), iso_now())

    async def roll_back(self, thread_id: str, run_id: str) -> None:
        """The thread's state as it was before the run (which has ended) began: a checkpoint
        copied from the one before the run's first, so the run's own stay in the history, as
        a branch left behind. Refused while a run holds the thread."""
        thread = await self.get(thread_id)
        graph = self._graph(thread)
        written = graph.aget_state_history(self._config(thread_id), filter={"run_id": run_id})
        first = None
        async for snapshot in written:  # (newest first)
            first = snapshot
        if first is None:
            return  # it wrote nothing
        if thread.active_run is not None or thread.queued:
            raise thread_busy(ThreadBusy(thread_id, thread.active_run, len(thread.queued)))
        if first.parent_config is None:
            # It began the thread: before it, there was no state at all.
            saver = self.checkpointing.saver
            assert saver is not None
            await saver.adelete_thread(thread_id)
            await self.store.reset_thread(thread_id, ThreadStatus.IDLE, [], iso_now())
            return
        await graph.aupdate_state(first.parent_config, None)
        pending = pending_interrupts(
            await graph.aget_state(self._config(thread_id), subgraphs=True)
        )
        status = ThreadStatus.IDLE if pending is None else ThreadStatus.INTERRUPTED
        await self.store.reset_thread(thread_id, status, interrupt_list(pending or []), iso_now())

    async def get(self, thread_id: str) -> ThreadRecord:
        record = await self._find(thread_id)
        if record is None:
            raise thread_not_found(thread_id)
        return record

    async def _find(self, thread_id: str) -> ThreadRecord | None:
        """The thread's record, if it is this principal's; rebuilt from its checkpoints when
        the store has lost it (the memory store, restarted over a SQLite checkpointer): its
        owner, status and pending interrupts come back, its metadata and list of runs do not."""
        self._require_checkpointer()
        record = await self.store.get_thread(thread_id)
        if record is None:
            record = await self._rebuild(thread_id)
        return record if record is not None and record.principal == self.principal else None

    async def _rebuild(self, thread_id: str) -> ThreadRecord | None:
        snapshot = await self.manager.graph.aget_state(self._config(thread_id), subgraphs=True)
        created_at = snapshot.created_at
        if created_at is None:
            return None
        pending = pending_interrupts(snapshot)
        rebuilt = ThreadRecord(
            thread_id,
            created_at,
            created_at,
            status=ThreadStatus.IDLE if pending is None else ThreadStatus.INTERRUPTED,
            interrupts=interrupt_list(pending or []),
            # Every run writes its principal into its checkpoints' metadata.
            principal=(snapshot.metadata or {}).get(PRINCIPAL_KEY),
        )
        await self.store.create_thread(rebuilt)
        return await self.store.get_thread(thread_id)

    async def describe(self, thread_id: str) -> dict[str, Any]:
        record = await self.get(thread_id)
        state = await self.state(thread_id)
        return {**record.public(), "values": state["values"], "interrupts": record.interrupts}

    async def state(self, thread_id: str) -> dict[str, Any]:
        thread = await self.get(thread_id)
        snapshot = await self._graph(thread).aget_state(self._config(thread_id))
        return state_view(snapshot)

    async def history(self, thread_id: str, limit: int) -> list[dict[str, Any]]:
        if not 1 <= limit <= MAX_HISTORY:
            raise ApiError(422, "invalid_limit", f"?limit must be 1 to {MAX_HISTORY}")
        thread = await self.get(thread_id)
        states = self._graph(thread).aget_state_history(self._config(thread_id), limit=limit)
        return [state_view(snapshot) async for snapshot in states]

    async def runs(self, thread_id: str) -> list[dict[str, Any]]:
        await self.get(thread_id)
        return await self.store.thread_runs(thread_id)

    async def delete(self, thread_id: str) -> None:
        await self.get(thread_id)
        try:
            deleted = await self.store.delete_thread(thread_id)
        except ThreadBusy as exc:
            raise thread_busy(exc) from exc
        if not deleted:
            raise thread_not_found(thread_id)
        saver = self.checkpointing.saver
        assert saver is not None
        await saver.adelete_thread(thread_id)

    async def start_run(self, spec: RunSpec, *, create_thread: bool = False) -> RunRecord:
        """Start a run: on its thread when it names one (created first if asked), else on a
        thread of its own when there is a checkpointer, else on none."""
        spec = dataclasses.replace(spec, principal=self.principal)
        graph_id = self._graph_of(spec)
        if spec.thread_id is None and self.checkpointing.enabled:
            # LangGraph's own way to name a thread: the same as naming it here.
            named = spec.config.get("configurable", {}).get("thread_id")
            if named is not None:
                spec = dataclasses.replace(spec, thread_id=str(named))
        if spec.thread_id is not None:
            thread = await self._find(spec.thread_id)
            if thread is None and create_thread:
                made = ThreadRecord(spec.thread_id, iso_now(), iso_now(), principal=self.principal)
                if not await self.store.create_thread(made):  # another principal's
                    raise thread_not_found(spec.thread_id)
            elif thread is None:
                raise thread_not_found(spec.thread_id)
            elif spec.command is not None and "resume" in spec.command:
                _check_resume(thread, spec)
            await self._belongs(thread, spec.thread_id, graph_id)
        elif spec.command is not None:
            raise ApiError(
                400,
                "thread_required",
                "a command acts on a thread's checkpoint: give thread_id",
            )
        try:
            return await self.manager.start(spec)
        except ThreadBusy as exc:
            raise thread_busy(exc) from exc
        except ThreadMissing as exc:
            raise thread_not_found(str(exc)) from exc

    async def _belongs(self, thread: ThreadRecord | None, thread_id: str, graph_id: str) -> None:
        """A thread is the graph's it first ran (its checkpoints are that graph's state):
        a run of another graph on it is refused. A fresh thread is marked with a graph other
        than the default one before its first run, so that it is read with that graph."""
        owner = thread.metadata.get("graph_id") if thread is not None else None
        if owner is not None:
            if owner != graph_id:
                raise ApiError(
                    409,
                    "thread_of_another_graph",
                    f"thread {thread_id!r} runs graph {owner!r}: run {graph_id!r} on a thread "
                    "of its own",
                )
            return
        if graph_id == self.manager.default_graph:
            return
        if thread is not None and (thread.active_run or await self.store.thread_runs(thread_id)):
            raise ApiError(
                409,
                "thread_of_another_graph",
                f"thread {thread_id!r} runs graph {self.manager.default_graph!r}: run "
                f"{graph_id!r} on a thread of its own",
            )
        await self.store.update_thread(thread_id, {"graph_id": graph_id}, iso_now())

    @staticmethod
    def _config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
        # A checkpoint as LangGraph's clients name one: {checkpoint_id, checkpoint_ns, …}.
        given = {k: v for k, v in (checkpoint or {}).items() if k != "thread_id" and v}
        # The root namespace is "", which savers need spelled out beside a checkpoint_id.
        return {"configurable": {"checkpoint_ns": "", **given, "thread_id": thread_id}}


def contains(document: Any, pattern: Any) -> bool:
    """JSON containment, as PostgreSQL's `@>`: an object holds the keys it is given, each
    holding its value; an array holds every element it is given; anything else is equal."""
    if isinstance(pattern, dict):
        return isinstance(document, dict) and all(
            key in document and contains(document[key], value) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(document, list) and all(
            any(contains(element, wanted) for element in document) for wanted in pattern
        )
    return bool(document == pattern)


def _check_resume(thread: ThreadRecord, spec: RunSpec) -> None:
    """A resume must answer interrupts the thread is waiting on. On a busy thread it is
    refused as busy (reject), or goes behind the active run, which may leave the thread
    waiting for it by then: LangGraph ignores a resume that answers nothing."""
    if thread.active_run is not None or thread.queued:
        return
    pending = [{"id": i["id"], "value": i["value"], "node": i["node"]} for i in thread.interrupts]
    details = {"status": thread.status, "pending": pending}
    if thread.status is not ThreadStatus.INTERRUPTED:
        raise ApiError(
            409,
            "not_interrupted",
            f"thread {thread.thread_id!r} is {thread.status}: there is no interrupt to resume",
            details=details,
        )
    ids = [i["id"] for i in pending]
    resume = (spec.command or {}).get("resume")
    if isinstance(resume, dict) and resume and all(INTERRUPT_ID_RE.fullmatch(k) for k in resume):
        unknown = sorted(set(resume) - set(ids))
        if unknown:
            raise ApiError(
                409,
                "interrupt_not_pending",
                f"interrupts {unknown} are not pending on thread {thread.thread_id!r}; "
                f"pending: {ids}",
                details=details,
            )
    elif len(ids) > 1:
        raise ApiError(
            409,
            "several_interrupts",
            f"{len(ids)} interrupts are pending on thread {thread.thread_id!r}: resume with a "
            f"map {{interrupt_id: value}} of {ids}",
            details=details,
        )
