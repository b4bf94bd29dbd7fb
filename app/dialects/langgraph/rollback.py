"""LangGraph's rollback (`multitask_strategy: "rollback"`, cancel `action=rollback`): runs
cancelled and forgotten, and their thread's state put back where it was before them."""

from __future__ import annotations

from app.dialects.langgraph.streams import wait_for_end
from app.runs import RunManager
from app.store.base import RunRecord
from app.threads import Threads


async def roll_back(manager: RunManager, threads: Threads, records: list[RunRecord]) -> None:
    """Cancel `records` (one thread's: the active run, then those queued behind it), wait for
    their ends, put the thread back to before the first one that ran, and forget them all."""
    for record in records:
        if not record.status.finished:
            await manager.cancel(record.run_id)
    ended = [await wait_for_end(manager, record) for record in records]
    # (Those queued behind the first wrote nothing: only its checkpoints are to be undone.)
    if ended and ended[0].thread_id is not None:
        await threads.roll_back(ended[0].thread_id, ended[0].run_id)
    for record in ended:
        await manager.store.delete_run(record)
