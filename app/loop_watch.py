"""How long the event loop stands still: its lag, and the garbage collector's pauses.

A stream's heartbeat is only as punctual as the loop that sends it, so both are measured where
an operator sees them (GET /metrics), not guessed.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from prometheus_client import Histogram

LAG_INTERVAL_SECONDS = 0.25


class GarbagePauses:
    """Times every collection of the oldest generation (the one that walks every object).

    The collector may run inside a histogram's own update, under its lock: the callback only
    notes the pause, and `drain` hands the notes to the histogram later."""

    def __init__(self) -> None:
        self._started = 0.0
        self._pauses: list[float] = []

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses.append(time.perf_counter() - self._started)

    def drain(self, histogram: Histogram) -> None:
        pauses, self._pauses = self._pauses, []
        for pause in pauses:
            histogram.observe(pause)

    def __enter__(self) -> GarbagePauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def watch_loop(lag: Histogram, gc_pauses: Histogram) -> None:
    """Sleep a quarter second, again and again: what the loop adds to it is its lag."""
    with GarbagePauses() as pauses:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_SECONDS)
            lag.observe(max(0.0, time.perf_counter() - started - LAG_INTERVAL_SECONDS))
            pauses.drain(gc_pauses)


# CPython collects its youngest generation every 700 allocations by default. Ten thousand
# streams sending heartbeats allocate that many every few milliseconds, and whatever is alive
# at that moment (a heartbeat being sent) is promoted, until a quarter of the heap is
# "pending" and a full collection walks every object: seconds, with millions of them. Rarer
# young collections let such objects die young, by reference counting, as they do.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_startup_objects() -> None:
    """What start-up allocated (modules, the graph, LangChain's classes) lives as long as the
    process: moved out of the collector's sight, so full collections walk only what streams
    and runs allocate later. And collections made rarer (see GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
