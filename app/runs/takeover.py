"""Runs another process began: continued here from their thread's last checkpoint as a new
attempt, or ended as lost when they cannot be."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any

from app.events import Event, EventName, RunStatus
from app.runs.attempts import attempt_fields, unfinished
from app.runs.spec import ActiveRun, RunSpec, WorkerLost
from app.settings import DisconnectPolicy
from app.store.base import RunRecord
from app.translate import DIALECT_EVENT, error_info, interrupt_list
from app.webhooks import RunEnded
from app.writer import Emitted, RunWriter, until_stored

logger = logging.getLogger(__name__)

PROCESS_LOST = "process_lost"
HANDED_OVER = "handed_over"


class Takeover:
    """RunManager's side of the runs of a process that has stopped or handed them over."""

    @property
    def continues_runs(self) -> bool:
        """Whether a run can go on in another process: their store and checkpoints shared."""
        return (
            self.store.shared and self.checkpointing.durable and self.settings.run_max_attempts > 1
        )

    async def _take_over(self, run_id: str, handed_over: bool) -> None:
        failure: dict[str, Any] | None = None
        record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and not record.status.finished:
            former = record.owner
            # Taking it first fences its former owner out, should that one still be writing.
            taken = await until_stored(lambda: self.store.take_run(run_id, handed_over), run_id)
            if taken is not None:
                spec = await self._spec_to_continue(taken)
                reason = HANDED_OVER if handed_over else PROCESS_LOST
                if spec is not None:
                    self.metrics.runs_taken_over.labels(reason, "continued").inc()
                    self._continue(taken, spec, reason)
                    return
                self.metrics.runs_taken_over.labels(reason, "lost").inc()
                failure = await self._end_as_lost(taken, former)
            record = await until_stored(lambda: self.store.get_run(run_id), run_id)
        if record is not None and record.status.finished:
            # Its process may have stopped between the run's end and its thread's bookkeeping.
            interrupts: list[dict[str, Any]] = []
            if record.status is RunStatus.INTERRUPTED and record.thread_id is not None:
                interrupts = interrupt_list(await self._paused(record.thread_id) or [])
            await self._settle(record, interrupts, failure)
        await until_stored(lambda: self.store.release_run(run_id), run_id)

    async def _spec_to_continue(self, record: RunRecord) -> RunSpec | None:
        if not self.continues_runs or record.thread_id is None or self.draining:
            return None
        if record.lost >= self.settings.run_max_attempts:
            return None
        spec = await until_stored(lambda: self.store.run_spec(record.run_id), record.run_id)
        return None if spec is None else RunSpec.from_json(spec)

    async def _end_as_lost(self, record: RunRecord, former: str) -> dict[str, Any] | None:
        message = f"the process running this run ({former}) stopped"
        if self.continues_runs and record.lost >= self.settings.run_max_attempts:
            message += f", as it did on each of its {record.lost} attempts"
        error = WorkerLost(message)
        writer = RunWriter(
            self.store, record.run_id, self.settings.max_payload_bytes, owner=record.owner
        )
        ended = await writer.end(
            [
                (EventName.RUN_ERROR, {"error": error_info(error)}),
                (EventName.RUN_END, {"status": RunStatus.ERROR, "duration_ms": None}),
            ],
            RunStatus.ERROR,
            resync=True,
        )
        if ended is None:
            return None
        logger.warning("run %s lost its process %s: ended it", record.run_id, former)
        final = dataclasses.replace(record, status=ended.status, ended_at=ended.ended_at)
        self._ended(RunEnded(final, None, error_info(error)))
        return error_info(error)

    def _continue(self, record: RunRecord, spec: RunSpec, reason: str) -> None:
        policy = DisconnectPolicy(record.on_disconnect)
        active = ActiveRun(record.run_id, policy, spec, spec.principal)
        active.taken_over = reason
        if record.status is RunStatus.RUNNING:
            active.turn.set()  # otherwise it was queued: it waits for its turn, as it did
        self._active[record.run_id] = active
        self.metrics.active_runs.inc()
        logger.warning(
            "run %s: continuing it here as attempt %d (%s)", record.run_id, record.attempt, reason
        )
        active.task = self._track(self._drive(active, record), name=f"run-{record.run_id}")

    async def _attempt(
        self, record: RunRecord, active: ActiveRun, config: dict[str, Any], input_: Any
    ) -> tuple[Any, dict[str, Any], Emitted]:
        """Where a new attempt starts (the input and config to run the graph with) and the
        events it appends first: from the thread's last checkpoint when the attempt before
        wrote one, else the run's own input again."""
        assert record.thread_id is not None and self.checkpointing.saver is not None
        logged: list[Event] = []
        if record.events > 0:
            async with contextlib.aclosing(self.store.read(record.run_id, 0)) as batches:
                async for batch in batches:
                    logged.extend(batch)
                    if batch[-1].seq >= record.events:
                        break
        latest = await self.checkpointing.saver.aget_tuple(
            {"configurable": {"thread_id": record.thread_id, "checkpoint_ns": ""}}
        )
        configurable = dict(config.get("configurable", {}))
        own = latest is not None and (latest.metadata or {}).get("run_id") == record.run_id
        if own:
            assert latest is not None
            # LangGraph continues a thread from its last checkpoint when given no input.
            checkpoint_id = latest.config["configurable"]["checkpoint_id"]
            configurable.pop("checkpoint_id", None)
            input_ = None
        else:
            checkpoint_id = configurable.get("checkpoint_id") or (
                latest.config["configurable"]["checkpoint_id"] if latest is not None else None
            )
        metadata = dict(config.get("metadata", {}))
        if "run_attempt" in metadata:  # LangGraph's server numbers a run's attempts there
            metadata["run_attempt"] = record.attempt
        config = {**config, "configurable": configurable, "metadata": metadata}
        fields = attempt_fields(
            record.attempt,
            active.taken_over or PROCESS_LOST,
            checkpoint_id,
            not own,
            unfinished(logged),
        )
        emitted: Emitted = [(EventName.RUN_ATTEMPT, fields)]
        if active.spec.recorded:
            metadata_event = {"run_id": record.run_id, "attempt": record.attempt}
            emitted.append((f"{DIALECT_EVENT}metadata", {"data": metadata_event}))
        return input_, config, emitted
