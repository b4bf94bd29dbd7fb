"""LangGraph's rollback through its Python SDK: a run cancelled with `action=rollback`, or
replaced by one with `multitask_strategy: "rollback"`, is gone, and its thread's state is as
it was before it began (what it wrote stays in the history, as a branch left behind)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from conftest import Server, run_js, start_server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("rollback"), "rollback_graphs:counter")
    yield srv
    srv.stop()


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


async def count(sdk: LangGraphClient, thread_id: str) -> int | None:
    return (await sdk.threads.get_state(thread_id))["values"].get("count")


async def lingering(sdk: LangGraphClient, thread_id: str) -> dict:
    """A slow run, once it has written its step (it then waits)."""
    run = await sdk.runs.create(thread_id, "counter", input={"slow": True})
    deadline = time.monotonic() + 30
    while (await count(sdk, thread_id)) != 2:
        assert time.monotonic() < deadline, "the slow run did not take its step"
        await asyncio.sleep(0.05)
    return run


async def test_cancel_with_rollback_forgets_the_run_and_undoes_its_steps(
    sdk: LangGraphClient,
) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread, "counter", input={})
    assert await count(sdk, thread) == 1
    run = await lingering(sdk, thread)
    await sdk.runs.cancel(thread, run["run_id"], action="rollback")
    assert await count(sdk, thread) == 1
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread, run["run_id"])
    assert (await sdk.threads.get(thread))["status"] == "idle"
    assert len(await sdk.runs.list(thread)) == 1
    # The thread goes on from there.
    await sdk.runs.wait(thread, "counter", input={})
    assert await count(sdk, thread) == 2


async def test_a_run_that_began_the_thread_rolls_it_back_to_nothing(sdk: LangGraphClient) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread, "counter", input={"slow": True})
    deadline = time.monotonic() + 30
    while (await count(sdk, thread)) != 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await sdk.runs.cancel(thread, run["run_id"], action="rollback")
    assert (await sdk.threads.get_state(thread))["values"] == {}


async def test_a_rollback_run_replaces_the_active_and_queued_ones(sdk: LangGraphClient) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread, "counter", input={})
    slow = await lingering(sdk, thread)
    queued = await sdk.runs.create(thread, "counter", input={}, multitask_strategy="enqueue")
    replacing = await sdk.runs.wait(thread, "counter", input={}, multitask_strategy="rollback")
    # From the state before the slow run: one step more, not two or three.
    assert replacing["count"] == 2
    listed = [r["run_id"] for r in await sdk.runs.list(thread)]
    assert slow["run_id"] not in listed and queued["run_id"] not in listed
    assert len(listed) == 2


async def test_rollback_refuses_to_leave_runs_queued_behind_unseen(
    server: Server, sdk: LangGraphClient
) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread, "counter", input={})
    first = (await sdk.runs.list(thread))[0]["run_id"]
    slow = await lingering(sdk, thread)
    await sdk.runs.create(thread, "counter", input={}, multitask_strategy="enqueue")
    async with httpx.AsyncClient(base_url=f"{server.url}/langgraph", timeout=30) as http:
        refused = await http.post(
            f"/threads/{thread}/runs/{slow['run_id']}/cancel", params={"action": "rollback"}
        )
        assert refused.status_code == 409 and "wait behind it" in refused.json()["detail"]
        bad = await http.post(
            f"/threads/{thread}/runs/{slow['run_id']}/cancel", params={"action": "undo"}
        )
        assert bad.status_code == 422
        # Both at once, by the bulk cancel: rolled back together.
        runs = [r["run_id"] for r in await sdk.runs.list(thread) if r["run_id"] != first]
        bulk = await http.post(
            "/runs/cancel",
            params={"action": "rollback"},
            json={"run_ids": runs, "thread_id": thread},
        )
        assert bulk.status_code == 204, bulk.text
    assert [r["run_id"] for r in await sdk.runs.list(thread)] == [first]
    assert await count(sdk, thread) == 1


def test_the_js_sdk_rolls_back_batches_copies_deletes_and_prunes(server: Server) -> None:
    seen = run_js("runs_more.mjs", f"{server.url}/langgraph", package="@langchain/langgraph-sdk")
    assert seen["first"] == {"count": 1}
    assert seen["afterRollback"] == 1 and seen["slow"]["run_id"] not in seen["listed"]
    assert seen["afterMany"] == 1
    assert len(seen["batch"]) == 2 and all(r["status"] == "pending" for r in seen["batch"])
    assert seen["copied"] == 1
    assert seen["afterDelete"] == 0
    assert seen["pruned"] == {"pruned_count": 2}
