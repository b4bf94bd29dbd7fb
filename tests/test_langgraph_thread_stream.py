"""A thread's join stream (GET /threads/{id}/stream) through LangGraph's Python SDK against a
real uvicorn: the thread's runs in order on one connection, an exact resume with the last id
seen, the lifecycle mode, and another principal's thread kept out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import Server, Spawn
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import StreamPart

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
TIMEOUT = 30


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=TIMEOUT)
    yield client
    await client.aclose()


def done(part: StreamPart) -> bool:
    return part.event == "metadata" and part.data.get("status") == "run_done"


async def read(
    sdk: LangGraphClient, thread_id: str, runs_ended: int, **kwargs: object
) -> list[StreamPart]:
    """The thread's stream until `runs_ended` runs have ended on it (or the timeout)."""
    parts: list[StreamPart] = []
    async with asyncio.timeout(TIMEOUT):
        stream = await sdk.threads.join_stream(thread_id, **kwargs)  # type: ignore[arg-type]
        async for part in stream:
            parts.append(part)
            if sum(done(p) for p in parts) == runs_ended:
                break
    return parts


def runs_in(parts: list[StreamPart]) -> list[str]:
    return [p.data["run_id"] for p in parts if p.event == "metadata" and "attempt" in p.data]


async def test_a_threads_runs_come_in_order_on_one_connection(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    reader = asyncio.create_task(read(sdk, thread_id, 2, last_event_id="-"))
    first = await sdk.runs.create(thread_id, "demo", input={**FAST, "topic": "one"})
    second = await sdk.runs.create(
        thread_id, "demo", input={**FAST, "topic": "two"}, multitask_strategy="enqueue"
    )
    parts = await reader
    assert runs_in(parts) == [first["run_id"], second["run_id"]]
    ends = [p.data["run_id"] for p in parts if done(p)]
    assert ends == [first["run_id"], second["run_id"]]
    # Each run's part: its start, its values, its end; the second's after the first's end.
    boundary = next(i for i, p in enumerate(parts) if done(p))
    owners = [p.id.split(".")[0] for p in parts if p.id]
    assert owners == [first["run_id"]] * (boundary + 1) + [second["run_id"]] * (
        len(parts) - boundary - 1
    )
    assert {p.event for p in parts} == {"metadata", "values"}
    assert parts[boundary + 1].data == {"run_id": second["run_id"], "attempt": 1}
    ids = [p.id for p in parts]
    assert all(ids) and len(set(ids)) == len(ids)
    last_values = [p.data for p in parts if p.event == "values"][-1]
    assert [m["content"] for m in last_values["messages"] if m["type"] == "human"] == ["one", "two"]


async def test_without_an_id_the_stream_starts_now(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    old = await sdk.runs.wait(thread_id, "demo", input=FAST)
    assert old
    reader = asyncio.create_task(read(sdk, thread_id, 1))
    await asyncio.sleep(0.5)  # the connection is open before the run starts (not required)
    new = await sdk.runs.create(thread_id, "demo", input=FAST)
    parts = await reader
    # Only the run started since: the first event may be missed if the run began before the
    # stream was open, but nothing of the earlier run is sent.
    assert {p.data["run_id"] for p in parts if p.event == "metadata"} == {new["run_id"]}


async def test_a_reconnect_gets_exactly_the_rest(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "demo", input={**FAST, "topic": "one"})
    await sdk.runs.join(thread_id, first["run_id"])
    # Read part of the first run, then go away.
    seen: list[StreamPart] = []
    async with asyncio.timeout(TIMEOUT):
        async for part in await sdk.threads.join_stream(thread_id, last_event_id="-"):
            seen.append(part)
            if part.event == "values":
                break
    # A run starts while no one reads.
    second = await sdk.runs.create(
        thread_id, "demo", input={**FAST, "topic": "two"}, multitask_strategy="enqueue"
    )
    rest = await read(sdk, thread_id, 2, last_event_id=seen[-1].id)
    everything = await read(sdk, thread_id, 2, last_event_id="-")
    assert [p.id for p in seen + rest] == [p.id for p in everything]
    assert [(p.event, p.data) for p in seen + rest] == [(p.event, p.data) for p in everything]
    assert runs_in(everything) == [first["run_id"], second["run_id"]]
    # After the first run's end: the second run, from its start.
    end_of_first = next(p for p in everything if done(p))
    after_first = await read(sdk, thread_id, 1, last_event_id=end_of_first.id)
    assert runs_in(after_first) == [second["run_id"]]


async def test_lifecycle_gives_only_the_runs_starts_and_ends(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    runs = [await sdk.runs.wait(thread_id, "demo", input=FAST) for _ in range(2)]
    assert all(runs)
    listed = [r["run_id"] for r in reversed(await sdk.runs.list(thread_id))]
    parts = await read(sdk, thread_id, 2, last_event_id="-", stream_mode="lifecycle")
    assert [(p.event, p.data) for p in parts] == [
        ("metadata", {"run_id": listed[0], "attempt": 1}),
        ("metadata", {"status": "run_done", "run_id": listed[0]}),
        ("metadata", {"run_id": listed[1], "attempt": 1}),
        ("metadata", {"status": "run_done", "run_id": listed[1]}),
    ]


async def test_bad_modes_and_ids_are_refused(server: Server, sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    base = f"{server.url}/langgraph/threads/{thread_id}/stream"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        bad_mode = await http.get(base, params={"stream_modes": "everything"})
        assert bad_mode.status_code == 422
        assert bad_mode.json() == {"detail": "Invalid stream mode: everything"}
        other_run = await http.get(base, headers={"Last-Event-ID": "abc123.4"})
        assert other_run.status_code == 400
        malformed = await http.get(base, headers={"Last-Event-ID": "not an id"})
        assert malformed.status_code == 400
        missing = await http.get(f"{server.url}/langgraph/threads/no-such-thread/stream")
        assert missing.status_code == 404


async def test_another_principals_thread_is_not_found(spawn: Spawn, tmp_path: Path) -> None:
    ann_key, bob_key = "key-ann-0123456789abcdef", "key-bob-0123456789abcdef"
    srv = spawn(auth="api-keys", api_keys=f"ann:{ann_key},bob:{bob_key}")
    ann = get_client(url=f"{srv.url}/langgraph", api_key=ann_key, timeout=TIMEOUT)
    try:
        thread_id = (await ann.threads.create())["thread_id"]
        await ann.runs.wait(thread_id, "demo", input=FAST)
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            url = f"{srv.url}/langgraph/threads/{thread_id}/stream"
            bob = await http.get(url, headers={"x-api-key": bob_key, "Last-Event-ID": "-"})
            assert bob.status_code == 404
            anonymous = await http.get(url)
            assert anonymous.status_code == 401
        parts = await read(ann, thread_id, 1, last_event_id="-")
        assert sum(done(p) for p in parts) == 1
    finally:
        await ann.aclose()


async def test_an_idle_threads_stream_beats(server: Server, sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    url = f"{server.url}/langgraph/threads/{thread_id}/stream"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http, http.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async with asyncio.timeout(TIMEOUT):
            async for line in response.aiter_lines():
                if line == ": heartbeat":  # the server fixture beats every second
                    break
