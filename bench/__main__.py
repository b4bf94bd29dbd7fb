"""`python -m bench [--quick] [--only NAME ...] [--out DIR]`: start every contender, run the
scenarios against each with the same client, print tables, write JSON and PNG plots."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import platform
import time
from pathlib import Path
from typing import Any

import psutil

from bench import servers
from bench.report import plot, table
from bench.scenarios import SCENARIOS, Sizes

# Scenarios that only make sense for some contenders say so themselves.
CONTENDERS = (
    "gateway (memory)",
    "gateway (memory, no checkpointer)",
    "gateway (memory, on a thread)",
    "gateway (memory, asyncio loop)",
    "gateway (memory, thread protocol)",
    "gateway (memory, AG-UI)",
    "ag-ui-langgraph",
    "gateway (memory, AI SDK)",
    "AI SDK writer (Node)",
    "gateway (redis)",
    "langgraph dev",
    "langgraph dev (thread protocol)",
    "naive StreamingResponse",
    "ceiling: sse-starlette, pre-encoded",
)


def machine() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": psutil.cpu_count(),
        "memory GiB": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "system": platform.platform(terse=True),
    }


def prepare(out: Path) -> Path:
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs


async def main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    logs = prepare(out)
    sizes = Sizes.quick() if args.quick else Sizes()
    redis = servers.RedisServer()
    contenders: list[servers.Contender] = []
    try:
        # One by one, so that those already up are stopped if the next cannot start.
        def add(contender: servers.Contender) -> servers.Contender:
            contenders.append(contender)
            return contender

        add(servers.gateway("gateway (memory)", logs, heartbeat_seconds=1))
        # Two variants for the hot-path scenarios (1 and 2) only: what threads cost.
        add(
            servers.gateway(
                "gateway (memory, no checkpointer)",
                logs,
                kind="gateway-variant",
                heartbeat_seconds=1,
                checkpointer="none",
            )
        )
        add(
            servers.gateway(
                "gateway (memory, on a thread)", logs, kind="gateway-thread", heartbeat_seconds=1
            )
        )
        # For the hot-path scenario only: the standard library's event loop against uvloop.
        add(
            servers.gateway(
                "gateway (memory, asyncio loop)",
                logs,
                kind="gateway-loop",
                loop="asyncio",
                heartbeat_seconds=1,
            )
        )
        # LangGraph's thread protocol (scenarios 1 to 3, and 11), on a gateway of its own.
        v2 = add(
            servers.gateway(
                "gateway (memory, thread protocol)",
                logs,
                kind="gateway-v2",
                heartbeat_seconds=1,
                checkpointer="memory://",
            )
        )
        # AG-UI (scenarios 1 and 2), through the same gateway.
        add(dataclasses.replace(v2, name="gateway (memory, AG-UI)", kind="gateway-agui"))
        add(servers.plain_app("ag-ui-langgraph", "agui-adapter", "bench.agui_peer:app", logs))
        # The AI SDK's UI message stream (scenarios 1 and 2), through the same gateway.
        add(dataclasses.replace(v2, name="gateway (memory, AI SDK)", kind="gateway-ai-sdk"))
        add(servers.ai_sdk_writer(logs))
        add(servers.gateway("gateway (redis)", logs, store_url=redis.url, heartbeat_seconds=1))
        dev = add(servers.langgraph_dev(logs))
        # The same server, read through its thread protocol.
        add(
            dataclasses.replace(
                dev, name="langgraph dev (thread protocol)", kind="langgraph-dev-v2"
            )
        )
        add(servers.plain_app("naive StreamingResponse", "naive", "bench.naive:app", logs))
        add(
            servers.plain_app(
                "ceiling: sse-starlette, pre-encoded", "ceiling", "bench.ceiling:app", logs
            )
        )
        chosen = [c for c in contenders if not args.skip or c.name not in args.skip]
        report: dict[str, Any] = {
            "machine": machine(),
            "quick": args.quick,
            "sizes": sizes.__dict__,
            "scenarios": {},
        }
        for name, scenario in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            started = time.perf_counter()
            rows = await scenario(chosen, sizes)
            report["scenarios"][name] = rows
            print(f"\n## {name} ({time.perf_counter() - started:.0f} s)")
            print(table(rows))
            (out / f"{name}.json").write_text(json.dumps(rows, indent=2))
        (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
        for path in plot(report, out):
            print(f"plot: {path}")
    finally:
        for contender in contenders:
            contender.stop()
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), help="scenarios to run")
    parser.add_argument("--skip", nargs="*", choices=CONTENDERS, help="contenders to leave out")
    parser.add_argument("--out", default="bench-results", help="folder for JSON and plots")
    asyncio.run(main(parser.parse_args()))
