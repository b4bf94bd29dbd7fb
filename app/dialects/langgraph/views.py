"""Runs, threads and states in the shapes LangGraph's server gives them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.errors import JSONBody
from app.events import RunStatus
from app.runs.delay import NOT_BEFORE_KEY
from app.store.base import RunRecord, ThreadRecord

# Where the vocabularies differ: LangGraph's run that paused at interrupt() is a success (its
# thread is what is interrupted), and a cancelled run is "interrupted".
RUN_STATUS = {
    RunStatus.PENDING: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.SUCCESS: "success",
    RunStatus.INTERRUPTED: "success",
    RunStatus.CANCELLED: "interrupted",
    RunStatus.ERROR: "error",
}


def run(record: RunRecord) -> dict[str, Any]:
    meta = record.meta
    return {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": meta.get("assistant_id"),
        "metadata": meta.get("metadata", {}),
        "status": RUN_STATUS[record.status],
        "kwargs": meta.get("kwargs", {}),
        "multitask_strategy": meta.get("multitask_strategy"),
        # LangGraph's server dates a delayed run from when it is due.
        "created_at": _due(meta) or record.created_at,
        "updated_at": record.ended_at or record.created_at,
    }


def _due(meta: dict[str, Any]) -> str | None:
    due = meta.get(NOT_BEFORE_KEY)
    if not isinstance(due, int | float):
        return None
    return (
        datetime.fromtimestamp(due, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def thread(record: ThreadRecord, snapshot: Any | None) -> dict[str, Any]:
    """`snapshot` is the thread's latest StateSnapshot (None: not read)."""
    has_state = snapshot is not None and _checkpoint(snapshot.config) is not None
    return {
        "thread_id": record.thread_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "state_updated_at": record.updated_at,
        "metadata": record.metadata,
        "status": str(record.status),
        "config": {},
        "values": snapshot.values if has_state else None,
        "error": error(record.error),
        "interrupts": _interrupts_by_task(snapshot) if has_state else {},
    }


def state(snapshot: Any) -> dict[str, Any]:
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    return {
        "values": snapshot.values if checkpoint else {},
        "next": list(snapshot.next),
        "tasks": [_task(task) for task in snapshot.tasks],
        "metadata": snapshot.metadata if checkpoint else None,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [_interrupt(i) for task in snapshot.tasks for i in task.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def checkpoint_config(config: dict[str, Any]) -> dict[str, Any]:
    """What POST /threads/{id}/state answers: the new checkpoint, three ways."""
    checkpoint = _checkpoint(config) or {}
    return {
        "checkpoint": checkpoint,
        "configurable": checkpoint,
        "checkpoint_id": checkpoint.get("checkpoint_id"),
    }


def pending_values(snapshot: Any) -> dict[str, Any]:
    """The state a paused run ends with, as its last `values` event and /wait show it."""
    values = dict(snapshot.values) if isinstance(snapshot.values, dict) else {}
    interrupts = [i for task in snapshot.tasks for i in task.interrupts]
    if interrupts:
        values["__interrupt__"] = interrupts
    return values


def error(info: dict[str, Any] | None) -> dict[str, Any] | None:
    # The gateway's {type, message} is LangGraph's {error, message}.
    return None if info is None else {"error": info.get("type"), "message": info.get("message")}


def _checkpoint(config: dict[str, Any] | None) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable", {})
    if not configurable.get("checkpoint_id"):
        return None
    return {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
    }


def _interrupt(interrupt: Any) -> dict[str, Any]:
    shown = {"id": interrupt.id, "value": interrupt.value}
    if getattr(interrupt, "response_schema", None) is not None:
        shown["response_schema"] = interrupt.response_schema
    return shown


def _interrupts_by_task(snapshot: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        task.id: [_interrupt(i) for i in task.interrupts]
        for task in snapshot.tasks
        if task.interrupts
    }


def _task(task: Any) -> dict[str, Any]:
    inner = task.state
    return {
        "id": task.id,
        "name": task.name,
        "path": list(task.path),
        "error": None if task.error is None else str(task.error),
        "interrupts": [_interrupt(i) for i in task.interrupts],
        # Unless subgraphs were asked for, a task paused in a subgraph holds the subgraph's
        # config ({thread_id, checkpoint_ns}, no checkpoint_id): clients read its state with it.
        "checkpoint": dict(inner.get("configurable", {})) if isinstance(inner, dict) else None,
        "state": state(inner) if hasattr(inner, "tasks") else None,
        "result": task.result,
    }


def paged(
    page: list[dict[str, Any]], total: int, offset: int, limit: int, select: list[str] | None
) -> JSONBody:
    """A page of a search as LangGraph's server answers it: only the fields selected, and the
    whole's size and the next page's offset in headers."""
    if select:
        page = [{k: v for k, v in item.items() if k in select} for item in page]
    headers = {"X-Pagination-Total": str(total)}
    if offset + limit < total:
        headers["X-Pagination-Next"] = str(offset + limit)
    return JSONBody(page, headers=headers)
