"""Delayed runs (`after_seconds`) through LangGraph's Python SDK against a real uvicorn: pending
until due and started no earlier, holding their thread meanwhile, cancellable, and continued by
another process when the one that accepted them stops."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from conftest import PostgresServer, RedisServer, Server, Spawn
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, UnprocessableEntityError

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
TIMEOUT = 30


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=TIMEOUT)
    yield client
    await client.aclose()


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def first_checkpoint_at(sdk: LangGraphClient, thread_id: str) -> datetime:
    history = await sdk.threads.get_history(thread_id, limit=100)
    return min(when(state["created_at"]) for state in history)


async def test_a_delayed_run_is_pending_until_due(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "demo", input=FAST, after_seconds=2)
    assert run["status"] == "pending"
    # As LangGraph's server has it: dated from when it is due.
    assert when(run["created_at"]) > when(run["updated_at"])
    assert (await sdk.threads.get(thread_id))["status"] == "busy"
    assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "pending"
    assert await sdk.threads.get_history(thread_id) == []
    await asyncio.wait_for(sdk.runs.join(thread_id, run["run_id"]), TIMEOUT)
    assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "success"
    assert await first_checkpoint_at(sdk, thread_id) >= when(run["created_at"])


async def test_a_delayed_run_holds_its_thread(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    delayed = await sdk.runs.create(
        thread_id, "demo", input={**FAST, "topic": "one"}, after_seconds=1
    )
    with pytest.raises(ConflictError):
        await sdk.runs.create(thread_id, "demo", input=FAST, multitask_strategy="reject")
    queued = await sdk.runs.create(
        thread_id, "demo", input={**FAST, "topic": "two"}, multitask_strategy="enqueue"
    )
    await asyncio.wait_for(sdk.runs.join(thread_id, queued["run_id"]), TIMEOUT)
    state = await sdk.threads.get_state(thread_id)
    humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    assert humans == ["one", "two"]
    assert (await sdk.runs.get(thread_id, delayed["run_id"]))["status"] == "success"
    with pytest.raises(UnprocessableEntityError):
        await sdk.runs.create(thread_id, "demo", input=FAST, after_seconds=-1)


async def test_a_pending_delayed_run_can_be_cancelled(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "demo", input=FAST, after_seconds=60)
    await sdk.runs.cancel(thread_id, run["run_id"], wait=True)
    assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
    assert (await sdk.threads.get(thread_id))["status"] == "idle"
    assert await sdk.threads.get_history(thread_id) == []  # it never started
    # The thread takes runs again at once.
    again = await sdk.runs.wait(thread_id, "demo", input=FAST)
    assert again


async def wait_status(client: LangGraphClient, thread_id: str, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            run = await client.runs.get(thread_id, run_id)
            if run["status"] not in ("pending", "running"):
                return run
            await asyncio.sleep(0.2)


async def test_a_delayed_run_outlives_the_process_that_took_it(
    spawn: Spawn, private_redis: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {
        "store_url": private_redis.url,
        "checkpointer": postgres_server.url,
        "run_lease_seconds": 1.5,
    }
    first, second = spawn(**shared), spawn(**shared)
    a = get_client(url=f"{first.url}/langgraph", timeout=TIMEOUT)
    b = get_client(url=f"{second.url}/langgraph", timeout=TIMEOUT)
    try:
        thread_id = (await a.threads.create())["thread_id"]
        run = await a.runs.create(thread_id, "demo", input=FAST, after_seconds=3)
        first.stop(signal.SIGKILL)
        assert (await b.runs.get(thread_id, run["run_id"]))["status"] == "pending"
        ended = await wait_status(b, thread_id, run["run_id"])
        assert ended["status"] == "success"
        # Started once, by the other process, when it was due.
        assert await first_checkpoint_at(b, thread_id) >= when(run["created_at"])
        state = await b.threads.get_state(thread_id)
        assert [m["type"] for m in state["values"]["messages"]].count("human") == 1
    finally:
        await a.aclose()
        await b.aclose()
