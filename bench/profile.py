"""`python -m bench.profile [--seconds S] [--out FILE]`: where the gateway's time goes.

py-spy samples a memory-store gateway while one client streams runs of 5,000 chunks from
LangChain's `GenericFakeChatModel` back to back (scenario 8's load). The samples of the event
loop's thread that were busy in Python are then split by what their stack was in; a share is
inclusive (a sample in uvicorn's send called from the gateway counts for both). py-spy reads the
process's memory, so it needs root or ptrace permission.

Then, in this process, what two of the gateway's own choices cost per event: asking
`astream_events` for the stream modes the gateway needs (`custom` and `updates`), against
asking for none, and translating LangGraph's raw events into the gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app.translate import STREAM_MODE, Translator
from bench import servers
from bench.client import open_stream
from bench.graphs import graph
from bench.report import table

LOAD = {"tokens": 5000, "model": "fake"}
# The event loop's thread: uvicorn runs the loop through asyncio's Runner, whatever the loop.
LOOP_FRAME = "Runner.run (asyncio/runners.py"
# What a busy sample was in, by a piece of one of its frames.
PARTS = {
    "LangChain's callbacks and tracers": "langchain_core/",
    "LangGraph": ("langgraph/", "pregel/"),
    "the gateway (app/)": " (app/",
    "anyio (cancel scopes, task groups, locks)": "anyio/",
    "sse-starlette": "sse_starlette/",
    "uvicorn's send": "RequestResponseCycle.send",
    "Starlette and FastAPI": ("starlette/", "fastapi/"),
}


def shares(raw: Path) -> tuple[int, int, Counter[str]]:
    """(loop thread's samples, of which busy in Python, busy samples per part)."""
    loop_samples = busy = 0
    parts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if LOOP_FRAME not in stack:
            continue
        n = int(count)
        loop_samples += n
        # What the loop was running: the frames below its own (those above are start-up's).
        running = stack.split(LOOP_FRAME, 1)[1].partition(";")[2]
        if not running:
            continue  # inside the loop's own C code: waiting for I/O, or scheduling
        busy += n
        for part, needles in PARTS.items():
            if any(needle in running for needle in _tuple(needles)):
                parts[part] += n
    return loop_samples, busy, parts


def _tuple(needles: str | tuple[str, ...]) -> tuple[str, ...]:
    return (needles,) if isinstance(needles, str) else needles


async def load(contender: servers.Contender, seconds: float) -> int:
    runs = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await open_stream(contender.port, **contender.request(LOAD))
        runs += 1
    return runs


async def per_event_costs(repeats: int = 5) -> list[dict[str, Any]]:
    """µs per raw event of astream_events with and without the gateway's stream modes
    (interleaved, medians), and of the translator over one run's raw events."""
    variants: dict[str, dict[str, Any]] = {
        "astream_events": {},
        "with stream_mode": {"stream_mode": STREAM_MODE},
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    raw: list[dict[str, Any]] = []
    for _ in range(repeats):
        for name, options in variants.items():
            started = time.perf_counter()
            events = [e async for e in graph.astream_events(LOAD, version="v2", **options)]
            times[name].append((time.perf_counter() - started) / len(events) * 1e6)
            raw = events
    translator = Translator()
    started = time.perf_counter()
    for event in raw:
        translator.translate(event, 0)
    translating = (time.perf_counter() - started) / len(raw) * 1e6
    plain = statistics.median(times["astream_events"])
    modes = statistics.median(times["with stream_mode"])
    return [
        {"per raw event": "astream_events, no stream_mode", "µs": round(plain, 1)},
        {"per raw event": f"astream_events, stream_mode={STREAM_MODE}", "µs": round(modes, 1)},
        {"per raw event": "the translator", "µs": round(translating, 2)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--out", default="bench-results/profile.txt", help="py-spy's raw samples")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    contender = servers.gateway("gateway (memory)", Path(tempfile.mkdtemp(prefix="bench-prof-")))
    try:
        command = [str(spy), "record", "--rate", "250", "--duration", str(int(args.seconds))]
        command += ["--format", "raw", "--output", str(out), "--pid", str(contender.process.pid)]
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runs = asyncio.run(load(contender, args.seconds + 1))
        _, errors = recorder.communicate(timeout=60)
        if recorder.returncode != 0:
            raise SystemExit(f"py-spy failed: {errors.decode(errors='replace').strip()}")
    finally:
        contender.stop()
    loop_samples, busy, parts = shares(out)
    print(f"{runs} runs streamed; event loop thread: {loop_samples} samples, {busy} busy in Python")
    rows = [{"in": part, "% of busy": round(100 * parts[part] / max(busy, 1), 1)} for part in PARTS]
    print(table(rows))
    print(table(asyncio.run(per_event_costs())))


if __name__ == "__main__":
    main()
