"""Many connect/disconnect cycles leave no task, subscriber or memory behind."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import free_port
from sse import read_events, start_run

from app.main import create_app
from app.settings import Settings


class InProcessServer:
    """A real uvicorn on a free port, in a thread of the test, so its loop can be inspected."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True
        )

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        leftover = asyncio.all_tasks(self.loop)  # e.g. sse-starlette's shutdown watcher
        for task in leftover:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        self.loop.close()

    def call(self, func: Any) -> Any:
        async def run() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def wait_for(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def task_count(self) -> int:
        return self.call(lambda: len(asyncio.all_tasks()) - 1)


@pytest.fixture
def inprocess() -> Iterator[InProcessServer]:
    with InProcessServer(Settings(heartbeat_seconds=0.05)) as srv:
        yield srv


def _settle(srv: InProcessServer, baseline: int) -> int:
    deadline = time.monotonic() + 5
    while (count := srv.task_count()) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def test_connect_disconnect_cycles_return_to_baseline(inprocess: InProcessServer) -> None:
    url = f"http://127.0.0.1:{inprocess.port}"
    with httpx.Client(base_url=url, timeout=10) as client:
        run_id = start_run(client, delay=120)  # parked in its first node for the whole test
        manager = inprocess.app.state.manager

        def cycle() -> None:
            events = read_events(client, f"/runs/{run_id}/stream", limit=3)
            assert [e.name for e in events] == ["run.start", "node.start", "custom"]
            resumed = read_events(
                client, f"/runs/{run_id}/stream", limit=1, headers={"Last-Event-ID": events[1].id}
            )
            assert resumed[0].id == events[2].id

        for _ in range(20):
            cycle()
        baseline_tasks = _settle(inprocess, 0)
        gc.collect()
        tracemalloc.start()
        baseline_memory = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            cycle()
        tasks = _settle(inprocess, baseline_tasks)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - baseline_memory
        tracemalloc.stop()
        assert tasks == baseline_tasks
        assert inprocess.wait_for(manager.store.add_subscriber(run_id, 0)) == 0
        assert growth < 512 * 1024, f"memory grew by {growth} bytes over 200 cycles"
        assert client.post(f"/runs/{run_id}/cancel").status_code == 202
