"""More of LangGraph's thread and run routes, through its Python SDK against a real uvicorn:
counting threads, searching them by their state's values with only some fields, and
cancelling many runs at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from conftest import Server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
SLOW = {"delay": 0.3, "tokens": 200, "token_delay": 0.05}


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


async def test_threads_are_counted_and_found_by_their_values(sdk: LangGraphClient) -> None:
    tag = uuid.uuid4().hex
    ids = []
    for topic in ("alpha", "beta", "beta"):
        thread = await sdk.threads.create(metadata={"tag": tag, "topic": topic})
        await sdk.runs.wait(thread["thread_id"], "demo", input={**FAST, "topic": f"{topic}-{tag}"})
        ids.append(thread["thread_id"])
    assert await sdk.threads.count(metadata={"tag": tag}) == 3
    assert await sdk.threads.count(metadata={"tag": tag, "topic": "beta"}) == 2
    # The state's values, as JSON containment: a field, and a message within a list.
    assert await sdk.threads.count(values={"topic": f"alpha-{tag}"}) == 1
    human = {"messages": [{"type": "human", "content": f"beta-{tag}"}]}
    assert await sdk.threads.count(values=human) == 2
    assert await sdk.threads.count(metadata={"tag": tag}, status="busy") == 0
    found = await sdk.threads.search(
        metadata={"tag": tag}, values=human, select=["thread_id", "status"], sort_by="created_at"
    )
    assert found == [
        {"thread_id": ids[2], "status": "idle"},
        {"thread_id": ids[1], "status": "idle"},
    ]
    newest = await sdk.threads.search(metadata={"tag": tag}, sort_by="state_updated_at", limit=1)
    assert newest[0]["thread_id"] == ids[2]
    with pytest.raises(UnprocessableEntityError) as refused:
        await sdk.threads.search(extract={"t": "values.topic"})
    assert "extract is not supported here" in str(refused.value)


async def test_many_runs_are_cancelled_at_once(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "demo", input=SLOW)
    queued = await sdk.runs.create(thread_id, "demo", input=SLOW, multitask_strategy="enqueue")
    await sdk.runs.cancel_many(thread_id=thread_id, run_ids=[first["run_id"], queued["run_id"]])
    for run in (first, queued):
        await asyncio.wait_for(sdk.runs.join(thread_id, run["run_id"]), 30)
        assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
    # By status: the caller's running runs.
    other = (await sdk.threads.create())["thread_id"]
    running = await sdk.runs.create(other, "demo", input=SLOW)
    await sdk.runs.cancel_many(status="running")
    await asyncio.wait_for(sdk.runs.join(other, running["run_id"]), 30)
    assert (await sdk.runs.get(other, running["run_id"]))["status"] == "interrupted"
    with pytest.raises(NotFoundError):
        await sdk.runs.cancel_many(thread_id=other, run_ids=[uuid.uuid4().hex])
    with pytest.raises(UnprocessableEntityError):
        await sdk.runs.cancel_many(thread_id=other)  # neither run ids nor a status


async def test_a_batch_of_runs_starts_each_of_them(sdk: LangGraphClient) -> None:
    runs = await sdk.runs.create_batch(
        [
            {"assistant_id": "demo", "input": {**FAST, "topic": "one"}},
            {"assistant_id": "demo", "input": {**FAST, "topic": "two"}},
        ]
    )
    assert len(runs) == 2 and len({r["run_id"] for r in runs}) == 2
    for run in runs:
        assert run["assistant_id"] and run["status"] in ("pending", "running", "success")
    with pytest.raises(NotFoundError):
        await sdk.runs.create_batch([{"assistant_id": "no-such-assistant", "input": {}}])


async def test_a_finished_run_is_deleted_and_an_active_one_is_not(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    done = await sdk.runs.create(thread_id, "demo", input=FAST)
    await asyncio.wait_for(sdk.runs.join(thread_id, done["run_id"]), 30)
    running = await sdk.runs.create(thread_id, "demo", input=SLOW)
    with pytest.raises(ConflictError):  # cancel it first
        await sdk.runs.delete(thread_id, running["run_id"])
    await sdk.runs.delete(thread_id, done["run_id"])
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, done["run_id"])
    assert [r["run_id"] for r in await sdk.runs.list(thread_id)] == [running["run_id"]]
    await sdk.runs.cancel(thread_id, running["run_id"], wait=True)


async def test_a_copied_thread_has_the_same_history_and_goes_on_by_itself(
    sdk: LangGraphClient,
) -> None:
    source = (await sdk.threads.create(metadata={"kind": "original"}))["thread_id"]
    await sdk.runs.wait(source, "demo", input={**FAST, "topic": "first"})
    copy = await sdk.threads.copy(source)
    assert copy["thread_id"] != source
    assert copy["metadata"] == (await sdk.threads.get(source))["metadata"]
    ours = await sdk.threads.get_history(copy["thread_id"], limit=100)
    theirs = await sdk.threads.get_history(source, limit=100)
    assert [s["values"] for s in ours] == [s["values"] for s in theirs]
    assert [s["checkpoint"]["checkpoint_id"] for s in ours] == [
        s["checkpoint"]["checkpoint_id"] for s in theirs
    ]
    # The copy goes on from the state it was given, and the original does not see it.
    await sdk.runs.wait(copy["thread_id"], "demo", input={**FAST, "topic": "second"})
    copied = (await sdk.threads.get_state(copy["thread_id"]))["values"]["messages"]
    original = (await sdk.threads.get_state(source))["values"]["messages"]
    assert [m["content"][:6] for m in copied if m["type"] == "human"] == ["first", "second"]
    assert [m["content"][:6] for m in original if m["type"] == "human"] == ["first"]
    # A thread waiting at an interrupt is copied waiting.
    paused = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(paused, "demo", input={**FAST, "approve": True})
    assert (await sdk.threads.copy(paused))["status"] == "interrupted"
    with pytest.raises(NotFoundError):
        await sdk.threads.copy(str(uuid.uuid4()))


async def test_threads_are_pruned_and_what_cannot_be_is_left(sdk: LangGraphClient) -> None:
    idle = (await sdk.threads.create())["thread_id"]
    busy = (await sdk.threads.create())["thread_id"]
    running = await sdk.runs.create(busy, "demo", input=SLOW)
    pruned = await sdk.threads.prune([idle, busy, str(uuid.uuid4())])
    assert pruned == {"pruned_count": 1}  # the busy one stays, an unknown one is no thread
    with pytest.raises(NotFoundError):
        await sdk.threads.get(idle)
    assert (await sdk.threads.get(busy))["status"] == "busy"
    with pytest.raises(UnprocessableEntityError):
        await sdk.threads.prune([busy], strategy="keep_latest")
    await sdk.runs.cancel(busy, running["run_id"], wait=True)
