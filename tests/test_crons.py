"""Crons through LangGraph's Python and JS SDKs against a real uvicorn: made, found, counted,
changed and deleted as LangGraph's server keeps them; their ticks start ordinary runs (on the
cron's thread, or on threads of their own); and over Redis, three processes fire each tick
once, and a tick missed while every process was down fires when one is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import TESTS, PostgresServer, RedisServer, Server, Spawn, run_js, start_server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from app.assistants import system_assistant_id

EVERY_SECOND = "* * * * * *"  # (a sixth field: seconds)
NEVER_SOON = "0 0 1 1 *"  # (New Year's midnight)
ECHO = system_assistant_id("echo")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A gateway of its own: the crons these tests make reach no other test.
    srv = start_server(
        tmp_path_factory.mktemp("crons"), "assistant_graphs:echo", cron_poll_seconds=0.2
    )
    yield srv
    srv.stop()


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def runs_of(sdk: LangGraphClient, thread_id: str, at_least: int) -> list[dict[str, Any]]:
    """The thread's runs once there are `at_least` of them (bounded, to catch a hang)."""
    deadline = time.monotonic() + 60
    while True:
        runs = await sdk.runs.list(thread_id, limit=100)
        if len(runs) >= at_least:
            return list(runs)
        assert time.monotonic() < deadline, f"{len(runs)} runs, not {at_least}"
        await asyncio.sleep(0.2)


async def settled(sdk: LangGraphClient, thread_id: str) -> list[dict[str, Any]]:
    """The thread's runs once none is pending or running."""
    deadline = time.monotonic() + 60
    while True:
        runs = await sdk.runs.list(thread_id, limit=100)
        if all(r["status"] not in ("pending", "running") for r in runs):
            return list(runs)
        assert time.monotonic() < deadline, "the thread's runs did not end"
        await asyncio.sleep(0.2)


async def test_a_cron_is_made_found_changed_and_deleted(sdk: LangGraphClient) -> None:
    tag = uuid.uuid4().hex
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    made = await sdk.crons.create(
        "echo",
        schedule=NEVER_SOON,
        input={"seen": {}},
        metadata={"tag": tag},
        end_time=end,
        timezone="Europe/Paris",
    )
    cron_id = made["cron_id"]
    assert made["assistant_id"] == ECHO and made["thread_id"] is None
    assert made["schedule"] == NEVER_SOON and made["enabled"] is True
    assert made["on_run_completed"] == "delete" and made["user_id"] == ""
    assert made["timezone"] == "Europe/Paris" and made["metadata"] == {"tag": tag}
    assert made["payload"]["input"] == {"seen": {}}
    assert made["payload"]["config"]["configurable"]["cron_id"] == cron_id
    # New Year's midnight in Paris is 23:00 UTC the day before.
    next_run = dt.datetime.fromisoformat(made["next_run_date"].replace("Z", "+00:00"))
    assert (next_run.month, next_run.day, next_run.hour) == (12, 31, 23)
    assert dt.datetime.fromisoformat(made["end_time"]) == end

    thread = await sdk.threads.create()
    on_thread = await sdk.crons.create_for_thread(
        thread["thread_id"], ECHO, schedule=NEVER_SOON, metadata={"tag": tag}
    )
    assert on_thread["thread_id"] == thread["thread_id"]
    assert on_thread["on_run_completed"] is None

    found = await sdk.crons.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [c["cron_id"] for c in found] == [cron_id, on_thread["cron_id"]]
    assert [c["cron_id"] for c in await sdk.crons.search(thread_id=thread["thread_id"])] == [
        on_thread["cron_id"]
    ]
    selected = await sdk.crons.search(metadata={"tag": tag}, select=["cron_id", "schedule"])
    assert all(set(c) == {"cron_id", "schedule"} for c in selected)
    assert await sdk.crons.count(metadata={"tag": tag}) == 2
    assert await sdk.crons.count(assistant_id="echo", metadata={"tag": tag}) == 2

    changed = await sdk.crons.update(
        cron_id,
        schedule="30 6 * * *",
        enabled=False,
        metadata={"more": 1},
        input={"seen": {"x": 1}},
    )
    assert changed["schedule"] == "30 6 * * *" and changed["enabled"] is False
    assert changed["metadata"] == {"tag": tag, "more": 1}
    assert changed["payload"]["input"] == {"seen": {"x": 1}}
    assert changed["payload"]["config"]["configurable"]["cron_id"] == cron_id
    assert changed["next_run_date"] != made["next_run_date"]
    assert changed["updated_at"] > made["updated_at"]
    assert await sdk.crons.search(metadata={"tag": tag}, enabled=False) == [changed]
    cleared = await sdk.crons.update(cron_id, end_time=None)
    assert cleared["end_time"] is None

    await sdk.crons.delete(cron_id)
    with pytest.raises(NotFoundError):
        await sdk.crons.delete(cron_id)
    # Deleting the thread takes its crons with it (at the next tick at the latest).
    await sdk.threads.delete(thread["thread_id"])


async def test_bad_crons_are_refused_with_what_is_wrong(server: Server) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/langgraph", timeout=30) as http:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"assistant_id": "echo", "schedule": "every day"}, 422, "invalid cron schedule"),
            (
                {"assistant_id": "echo", "schedule": "* * * * *", "timezone": "Mars/Base"},
                422,
                "IANA",
            ),
            ({"assistant_id": "nobody", "schedule": "* * * * *"}, 404, "nobody"),
            (
                {"assistant_id": "echo", "schedule": "* * * * *", "stream_mode": "tokens"},
                422,
                "stream_mode",
            ),
            ({"schedule": "* * * * *"}, 422, "assistant_id"),
            (
                {"assistant_id": "echo", "schedule": "* * * * *", "webhook": "http://127.0.0.1:9/"},
                422,
                "GATEWAY_WEBHOOK_ALLOW",
            ),
        ]
        for cron, status, says in cases:
            answer = await http.post("/runs/crons", json=cron)
            assert answer.status_code == status, (cron, answer.text)
            assert says in answer.json()["detail"], answer.text
        missing = await http.post(
            "/threads/no-such-thread/runs/crons",
            json={"assistant_id": "echo", "schedule": "* * * * *"},
        )
        assert missing.status_code == 404 and "no-such-thread" in missing.json()["detail"]
        unknown = await http.get(f"/runs/crons/{uuid.uuid4()}")
        assert unknown.status_code == 404
        made = (
            await http.post("/runs/crons", json={"assistant_id": "echo", "schedule": NEVER_SOON})
        ).json()
        empty = await http.patch(f"/runs/crons/{made['cron_id']}", json={})
        assert empty.status_code == 400 and "no fields" in empty.json()["detail"]
        bad = await http.patch(f"/runs/crons/{made['cron_id']}", json={"schedule": "soon"})
        assert bad.status_code == 422
        assert (await http.get(f"/runs/crons/{made['cron_id']}")).json() == made
        assert (await http.delete(f"/runs/crons/{made['cron_id']}")).status_code == 204


async def test_a_thread_cron_runs_on_its_thread_at_each_tick(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    cron = await sdk.crons.create_for_thread(
        thread["thread_id"],
        "echo",
        schedule=EVERY_SECOND,
        input={},
        context={"greeting": "tick"},
        metadata={"who": "cron"},
    )
    runs = await runs_of(sdk, thread["thread_id"], at_least=2)
    await sdk.crons.delete(cron["cron_id"])
    runs = await settled(sdk, thread["thread_id"])
    assert all(r["status"] == "success" for r in runs), runs
    for run in runs:
        assert run["assistant_id"] == ECHO
        assert run["metadata"]["who"] == "cron" and "cron_tick" in run["metadata"]
    ticks = [r["metadata"]["cron_tick"] for r in runs]
    assert len(set(ticks)) == len(ticks)
    state = await sdk.threads.get_state(thread["thread_id"])
    assert state["values"]["seen"]["context"] == {"greeting": "tick"}
    # Once deleted, it starts no more runs.
    await asyncio.sleep(1.5)
    assert len(await sdk.runs.list(thread["thread_id"], limit=100)) == len(runs)


async def test_a_disabled_cron_or_one_past_its_end_starts_nothing(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await sdk.crons.create_for_thread(
        thread["thread_id"], "echo", schedule=EVERY_SECOND, end_time=ended
    )
    paused = await sdk.crons.create_for_thread(
        thread["thread_id"], "echo", schedule=EVERY_SECOND, input={}, enabled=False
    )
    await asyncio.sleep(1.5)
    assert await sdk.runs.list(thread["thread_id"]) == []
    # Enabled again, it runs.
    await sdk.crons.update(paused["cron_id"], enabled=True)
    await runs_of(sdk, thread["thread_id"], at_least=1)
    await sdk.threads.delete(thread["thread_id"])


async def test_a_stateless_cron_that_keeps_its_threads_gives_each_run_one(
    sdk: LangGraphClient,
) -> None:
    tag = uuid.uuid4().hex
    cron = await sdk.crons.create(
        "echo", schedule=EVERY_SECOND, input={}, metadata={"tag": tag}, on_run_completed="keep"
    )
    deadline = time.monotonic() + 60
    while len(kept := await sdk.threads.search(metadata={"tag": tag})) < 2:
        assert time.monotonic() < deadline, "no thread kept"
        await asyncio.sleep(0.2)
    await sdk.crons.delete(cron["cron_id"])
    for thread in kept:
        runs = await settled(sdk, thread["thread_id"])
        assert len(runs) == 1 and runs[0]["metadata"]["cron_tick"]
    assert len({t["thread_id"] for t in kept}) == len(kept)


def test_the_js_sdk_manages_crons(server: Server) -> None:
    seen = run_js("crons.mjs", f"{server.url}/langgraph", package="@langchain/langgraph-sdk")
    assert seen["created"]["assistant_id"] == ECHO and seen["created"]["thread_id"] is None
    assert seen["forThread"]["thread_id"] == seen["thread"]["thread_id"]
    assert seen["updated"]["schedule"] == "0 12 * * *" and seen["updated"]["enabled"] is False
    assert seen["count"] == 2 and len(seen["found"]) == 2
    assert seen["gone"] == 404


async def test_three_processes_fire_each_tick_once_and_a_restart_misses_none(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {
        "store_url": redis_server.url,
        "checkpointer": postgres_server.url,
        "cron_poll_seconds": 0.2,
    }
    processes = [spawn("assistant_graphs:echo", **shared) for _ in range(3)]
    # A gateway serving another graph over the same Redis fires none of these crons.
    spawn(**shared)
    on_a = get_client(url=f"{processes[0].url}/langgraph", timeout=30)
    try:
        thread = await on_a.threads.create()
        thread_id = thread["thread_id"]
        cron = await on_a.crons.create_for_thread(
            thread_id, "echo", schedule=EVERY_SECOND, input={}
        )
        await runs_of(on_a, thread_id, at_least=4)
        # Every process of the graph down across ticks (the other one still up); then one back.
        for process in processes:
            process.stop()
        await asyncio.sleep(2.5)
        restarted_at = dt.datetime.now(dt.UTC)
        back = spawn("assistant_graphs:echo", **shared)
        await on_a.aclose()
        on_a = get_client(url=f"{back.url}/langgraph", timeout=30)
        deadline = time.monotonic() + 60
        while not (
            late := [
                r
                for r in await on_a.runs.list(thread_id, limit=100)
                if moment(r["created_at"]) > restarted_at
            ]
        ):
            assert time.monotonic() < deadline, "no tick fired after the restart"
            await asyncio.sleep(0.2)
        # The first run after it is the tick that came while every process was down.
        first = min(late, key=lambda r: moment(r["created_at"]))
        assert moment(first["metadata"]["cron_tick"]) < restarted_at
        await on_a.crons.delete(cron["cron_id"])
        runs = await settled(on_a, thread_id)
        ticks = [r["metadata"]["cron_tick"] for r in runs]
        assert len(set(ticks)) == len(ticks), sorted(ticks)
    finally:
        await on_a.aclose()


def test_the_same_js_script_gives_the_same_shapes_on_langgraph_dev(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from test_langgraph_side_by_side import langgraph_dev

    graphs = {"echo": f"{TESTS / 'assistant_graphs.py'}:echo"}
    with langgraph_dev(tmp_path_factory.mktemp("crons-langgraph-dev"), graphs) as url:
        theirs = run_js("crons.mjs", url, package="@langchain/langgraph-sdk")
    ours = run_js("crons.mjs", f"{server.url}/langgraph", package="@langchain/langgraph-sdk")

    def shape(value: Any) -> Any:
        """Which fields, holding which kinds of value (ids, times and tags differ by nature)."""
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    # (The thread the script makes is compared by the thread tests.)
    assert shape({**ours, "thread": None}) == shape({**theirs, "thread": None})


async def test_crons_are_their_owners_and_run_as_them(spawn: Spawn) -> None:
    ann_key, bob_key = "key-ann-0123456789abcdef", "key-bob-0123456789abcdef"
    keyed = spawn(
        "assistant_graphs:echo",
        auth="api-keys",
        api_keys=f"ann:{ann_key},bob:{bob_key}",
        cron_poll_seconds=0.2,
    )
    ann = get_client(url=f"{keyed.url}/langgraph", api_key=ann_key)
    bob = get_client(url=f"{keyed.url}/langgraph", api_key=bob_key)
    try:
        thread = await ann.threads.create()
        with pytest.raises(NotFoundError):
            await bob.crons.create_for_thread(thread["thread_id"], "echo", schedule=NEVER_SOON)
        cron = await ann.crons.create_for_thread(
            thread["thread_id"], "echo", schedule=EVERY_SECOND, input={}
        )
        assert cron["user_id"] == "ann"
        assert await bob.crons.search() == [] and await bob.crons.count() == 0
        with pytest.raises(NotFoundError):
            await bob.crons.delete(cron["cron_id"])
        with pytest.raises(NotFoundError):
            await bob.crons.update(cron["cron_id"], enabled=False)
        # Its runs are Ann's, on her thread.
        await runs_of(ann, thread["thread_id"], at_least=1)
        await ann.crons.delete(cron["cron_id"])
        assert all(r["status"] == "success" for r in await settled(ann, thread["thread_id"]))
        async with httpx.AsyncClient(base_url=f"{keyed.url}/langgraph", timeout=30) as anonymous:
            refused = await anonymous.post("/runs/crons/search", json={})
            assert refused.status_code == 401
    finally:
        await ann.aclose()
        await bob.aclose()
