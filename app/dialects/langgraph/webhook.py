"""A run's `webhook` as LangGraph's server has it: checked against the allow-list when the run
is created, and when it ends the payload that server posts (app.webhooks delivers it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.pregel import Pregel

from app.dialects.langgraph import views
from app.errors import ApiError
from app.events import RunStatus
from app.settings import Settings
from app.webhooks import Payload, RunEnded, refusal


def check(settings: Settings, url: str | None) -> None:
    """422 for a webhook this gateway may not post to."""
    if url is None:
        return
    reason = refusal(url, settings.webhook_allow_list())
    if reason is not None:
        raise ApiError(422, "webhook_refused", reason)


def payload_for(graph_for: Callable[[str | None], Pregel]) -> Payload:
    """LangGraph's webhook payload, read with the run's graph (`graph_for` its id: the graph
    its threads are read with): the run as its routes show it, its final status, when it ran,
    its thread's values as its last checkpoint left them, and its error."""

    async def payload(ended: RunEnded) -> dict[str, Any]:
        record = ended.record
        body = views.run(record)
        body.update(
            run_started_at=ended.started_at,
            run_ended_at=record.ended_at,
            values=await _values(graph_for(record.meta.get("metadata", {}).get("graph_id")), ended),
        )
        if ended.error is not None:
            body["error"] = views.error(ended.error)
        return body

    return payload


async def _values(graph: Pregel, ended: RunEnded) -> Any:
    record = ended.record
    if record.thread_id is None:
        # No checkpointer: the graph's output is all there is of its state.
        return ended.output if record.status is RunStatus.SUCCESS else None
    # The run's own last checkpoint, not the thread's latest: the next run on the thread may
    # have begun by the time this is read.
    config = {"configurable": {"thread_id": record.thread_id, "checkpoint_ns": ""}}
    history = graph.aget_state_history(config, filter={"run_id": record.run_id}, limit=1)
    async for snapshot in history:
        return snapshot.values
    return None
