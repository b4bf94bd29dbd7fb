"""Delayed runs: a run that starts no earlier than a time its creator chose.

The time is kept in the run's spec (its `meta`, which another process gets when it takes the
run over), as a wall-clock instant rather than a duration, so whichever process drives the run
waits for the same moment. The run is created, and takes its place on its thread, at once:
until then it is `pending`, can be cancelled, and holds its thread as a running run would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

NOT_BEFORE_KEY = "not_before"  # in RunSpec.meta: seconds since the epoch


def not_before(after_seconds: float | None) -> dict[str, float]:
    """The meta entry for a run to start `after_seconds` from now (none for no delay)."""
    return {NOT_BEFORE_KEY: time.time() + after_seconds} if after_seconds else {}


async def until_due(meta: dict[str, Any]) -> bool:
    """Wait until the run may start; whether it had to wait."""
    due = meta.get(NOT_BEFORE_KEY)
    if not isinstance(due, int | float):
        return False
    # Slept in steps against the wall clock: the instant was set by another process maybe.
    waited = False
    while (left := due - time.time()) > 0:
        waited = True
        await asyncio.sleep(min(left, 1.0))
    return waited
