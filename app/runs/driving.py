"""Driving a run: its graph's events translated into its log, from the first to run.end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from langgraph.pregel import Pregel

from app.events import EventName, RunStatus, now_ms
from app.runs.delay import until_due
from app.runs.spec import PRINCIPAL_KEY, ActiveRun, CheckpointerRequired
from app.store.base import AppendConflict, RunRecord, StoreUnavailable
from app.translate import (
    PendingInterrupt,
    RawPassthrough,
    Translator,
    error_info,
    pending_interrupts,
    stream_modes,
    to_command,
)
from app.webhooks import RunEnded
from app.writer import Emitted, RunWriter, iso_now, until_stored

logger = logging.getLogger(__name__)


class Driving:
    """RunManager's driving of one run."""

    async def _drive(self, active: ActiveRun, record: RunRecord) -> None:
        run_id, thread_id, spec = record.run_id, record.thread_id, active.spec
        # A run another process began goes on after the events its log holds, as a new attempt.
        continuing = active.taken_over is not None and record.attempt > 1
        writer = RunWriter(
            self.store,
            run_id,
            self.settings.max_payload_bytes,
            seq=record.events if continuing else 0,
            owner=record.owner,
        )
        translator = (
            RawPassthrough()
            if record.mode == "raw"
            else Translator(
                thread_id=thread_id,
                command=spec.command,
                recorded=spec.recorded,
                recorded_subgraphs=bool(spec.graph_options.get("subgraphs")),
                # A later attempt's run.start is in the log already (unless the attempt
                # before died before writing any event).
                announce=not continuing or record.events == 0,
            )
        )
        options = dict(spec.graph_options)
        if thread_id is not None and record.mode != "raw":
            # A thread's event stream shows subgraphs' writer events in their namespaces,
            # whoever started the run.
            options["subgraphs"] = True
        created = started = time.monotonic()
        started_at = iso_now()
        status = RunStatus.SUCCESS
        tail: Emitted = []
        failure: dict[str, Any] | None = None
        handed_over = False
        metrics = self.metrics
        try:
            waited = await until_due(spec.meta)  # a delayed run's start, if it is one
            if not active.turn.is_set():
                await self._wait_for_turn(active, thread_id)
                waited = True
            if waited:
                started, started_at = time.monotonic(), iso_now()
            await self.store.set_status(run_id, RunStatus.RUNNING)
            config = self._config(spec.config, thread_id, run_id, spec.principal)
            input_ = to_command(spec.command) if spec.command is not None else spec.input
            if continuing:
                input_, config, attempt = await self._attempt(record, active, config, input_)
                await writer.append(attempt)
                metrics.events_appended.inc(len(attempt))
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
                    if writer.seq == 0 and not continuing:
                        metrics.first_event.observe(time.monotonic() - created)
                    await writer.append(emitted)
                    metrics.events_appended.inc(len(emitted))
                    if active.cancelling:
                        # A cancel that lands inside the Redis client's own timeout handling
                        # can be swallowed there (redis-py on asyncio.timeout); honour it here.
                        raise asyncio.CancelledError
            reading = self.graph_for(config.get("configurable", {}).get("graph_id"))
            paused = await self._paused(thread_id, reading) if thread_id is not None else None
            if paused is not None:
                status = RunStatus.INTERRUPTED
                tail = translator.interrupt(paused)
            elif translator.interrupted:
                raise CheckpointerRequired()
        except asyncio.CancelledError:
            # The log must still end with run.end (unless another process is to continue
            # it), so the cancellation stops here.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = RunStatus.CANCELLED
            handed_over = active.handing_over
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
        if handed_over:
            await self._hand_over(run_id)
            return
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
        ended = await writer.end([*tail, (EventName.RUN_END, end)], status)
        if ended is None:
            logger.warning("run %s was ended by another process", run_id)
        else:
            record.ended_at = ended.ended_at  # as the store has it
            self._ended(RunEnded(record, started_at, failure, end.get("output")))
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

    async def _hand_over(self, run_id: str) -> None:
        """Leave the run, its log as it stands, for another process to continue."""
        with contextlib.suppress(AppendConflict, StoreUnavailable):
            await self.store.flush(run_id)
        await until_stored(lambda: self.store.hand_over(run_id), run_id)
        logger.info("run %s handed over for another process to continue", run_id)

    @contextlib.asynccontextmanager
    async def _graph_for_run(self, config: dict[str, Any], context: Any) -> AsyncIterator[Pregel]:
        served = self.served(config.get("configurable", {}).get("graph_id"))
        if served.factory is None:
            yield served.graph
            return
        store = served.graph.store
        built = served.factory.built(config, for_run=True, store=store, context=context)
        async with built as graph:
            update: dict[str, Any] = {}
            if self.checkpointing.saver is not None:
                update["checkpointer"] = self.checkpointing.saver
            if store is not None and graph.store is None:
                update["store"] = store
            yield graph.copy(update=update) if update else graph

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

    async def _paused(
        self, thread_id: str, graph: Pregel | None = None
    ) -> list[PendingInterrupt] | None:
        """What the thread waits on when its graph (`graph`, else the one its record names)
        has paused; None when it has not."""
        if graph is None:
            thread = await self.store.get_thread(thread_id)
            graph = self.graph_for(thread.metadata.get("graph_id") if thread else None)
        snapshot = await graph.aget_state(self._config({}, thread_id), subgraphs=True)
        return pending_interrupts(snapshot)
