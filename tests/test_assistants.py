"""Assistants through LangGraph's Python and JS SDKs against a real uvicorn: made over the
served graph with a config and context of their own, found, counted, versioned, deleted; a
run on one gets its config and context under the run's own; and two processes over Redis
share them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import PostgresServer, RedisServer, Server, Spawn, run_js, start_server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

SYSTEM = {"created_by": "system"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A gateway of their own: the assistants these tests make do not reach other tests.
    srv = start_server(tmp_path_factory.mktemp("assistants"), "assistant_graphs:echo")
    yield srv
    srv.stop()


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


async def seen(sdk: LangGraphClient, assistant_id: str, **run: Any) -> dict[str, Any]:
    values = await sdk.runs.wait(None, assistant_id, input={}, **run)
    assert isinstance(values, dict)
    return values["seen"]  # type: ignore[no-any-return]


async def test_an_assistant_is_made_found_versioned_and_deleted(sdk: LangGraphClient) -> None:
    tag = uuid.uuid4().hex
    made = await sdk.assistants.create(
        "echo",
        context={"greeting": "hello", "style": "terse"},
        metadata={"tag": tag, "team": "a"},
        name="Greeter",
        description="says hello",
    )
    assistant_id = made["assistant_id"]
    assert made["graph_id"] == "echo" and made["version"] == 1 and made["name"] == "Greeter"
    # LangGraph keeps context and config.configurable the same.
    assert made["context"] == {"greeting": "hello", "style": "terse"}
    assert made["config"]["configurable"] == made["context"]
    assert (await sdk.assistants.get(assistant_id)) == made

    other = await sdk.assistants.create("echo", metadata={"tag": tag, "team": "b"}, name="Other")
    found = await sdk.assistants.search(metadata={"tag": tag}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in found] == ["Greeter", "Other"]
    backwards = await sdk.assistants.search(metadata={"tag": tag}, sort_by="name")
    assert [a["name"] for a in backwards] == ["Other", "Greeter"]  # descending, as there
    assert await sdk.assistants.count(metadata={"tag": tag}) == 2
    assert await sdk.assistants.count(metadata={"tag": tag, "team": "b"}) == 1
    named = await sdk.assistants.search(name="greet", select=["assistant_id", "name"])
    assert named == [{"assistant_id": assistant_id, "name": "Greeter"}]
    everyone = await sdk.assistants.search(graph_id="echo", limit=100)
    assert SYSTEM in [a["metadata"] for a in everyone]  # the served graph's own, beside them

    # A change is a new version: metadata merged, the rest kept unless given.
    changed = await sdk.assistants.update(
        assistant_id, context={"greeting": "hi"}, metadata={"v": 2}
    )
    assert changed["version"] == 2 and changed["context"] == {"greeting": "hi"}
    assert changed["metadata"] == {"tag": tag, "team": "a", "v": 2}
    assert changed["name"] == "Greeter" and changed["description"] == "says hello"
    versions = await sdk.assistants.get_versions(assistant_id)
    assert [v["version"] for v in versions] == [2, 1]
    assert [
        v["version"] for v in await sdk.assistants.get_versions(assistant_id, metadata={"v": 2})
    ] == [2]
    back = await sdk.assistants.set_latest(assistant_id, 1)
    assert back["version"] == 1 and back["context"] == {"greeting": "hello", "style": "terse"}
    with pytest.raises(NotFoundError):
        await sdk.assistants.set_latest(assistant_id, 9)

    await sdk.assistants.delete(other["assistant_id"])
    with pytest.raises(NotFoundError):
        await sdk.assistants.get(other["assistant_id"])
    with pytest.raises(NotFoundError):
        await sdk.assistants.delete(other["assistant_id"])


async def test_an_id_is_taken_once_and_graphs_must_be_served(sdk: LangGraphClient) -> None:
    assistant_id = str(uuid.uuid4())
    first = await sdk.assistants.create("echo", assistant_id=assistant_id, name="one")
    with pytest.raises(ConflictError):
        await sdk.assistants.create("echo", assistant_id=assistant_id, name="two")
    kept = await sdk.assistants.create(
        "echo", assistant_id=assistant_id, name="two", if_exists="do_nothing"
    )
    assert kept == first
    with pytest.raises(NotFoundError):
        await sdk.assistants.create("no-such-graph")
    # The served graph's own assistant stays as it is.
    (system,) = await sdk.assistants.search(metadata=SYSTEM)
    with pytest.raises(ConflictError):
        await sdk.assistants.update(system["assistant_id"], name="renamed")
    with pytest.raises(ConflictError):
        await sdk.assistants.delete("echo")


async def test_a_run_gets_its_assistants_config_and_context_under_its_own(
    sdk: LangGraphClient,
) -> None:
    made = await sdk.assistants.create(
        "echo", context={"greeting": "hello", "style": "terse"}, name="ctx"
    )
    assert await seen(sdk, made["assistant_id"]) == {
        "context": {"greeting": "hello", "style": "terse"},
        "mode": None,
    }
    # The run's own context wins where it says something.
    mine = await seen(sdk, made["assistant_id"], context={"style": "long"})
    assert mine["context"] == {"greeting": "hello", "style": "long"}
    configured = await sdk.assistants.create("echo", config={"configurable": {"mode": "x"}})
    assert (await seen(sdk, configured["assistant_id"]))["mode"] == "x"
    over = await seen(sdk, configured["assistant_id"], config={"configurable": {"mode": "y"}})
    assert over["mode"] == "y"
    # The run says which assistant it ran.
    thread = await sdk.threads.create()
    run = await sdk.runs.create(thread["thread_id"], made["assistant_id"], input={})
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["assistant_id"] == made[
        "assistant_id"
    ]


def test_the_js_sdk_manages_assistants(server: Server) -> None:
    seen = run_js("assistants.mjs", f"{server.url}/langgraph", package="@langchain/langgraph-sdk")
    assert seen["created"]["graph_id"] == "echo" and seen["created"]["version"] == 1
    assert seen["updated"]["version"] == 2 and seen["updated"]["name"] == "renamed"
    assert [v["version"] for v in seen["versions"]] == [2, 1]
    assert seen["latest"]["version"] == 1 and seen["latest"]["name"] == "js"
    assert seen["count"] >= 1 and seen["gone"] == 404


async def test_processes_over_redis_share_assistants(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    a = spawn("assistant_graphs:echo", **shared)
    b = spawn("assistant_graphs:echo", **shared)
    other = spawn(**shared)  # the demo graph, over the same Redis
    on_a = get_client(url=f"{a.url}/langgraph", timeout=30)
    on_b = get_client(url=f"{b.url}/langgraph", timeout=30)
    on_other = get_client(url=f"{other.url}/langgraph", timeout=30)
    try:
        made = await on_a.assistants.create("echo", context={"greeting": "from a"})
        assert (await on_b.assistants.get(made["assistant_id"]))["context"] == {
            "greeting": "from a"
        }
        await on_b.assistants.update(made["assistant_id"], context={"greeting": "from b"})
        assert (await seen(on_a, made["assistant_id"]))["context"] == {"greeting": "from b"}
        assert [v["version"] for v in await on_a.assistants.get_versions(made["assistant_id"])] == [
            2,
            1,
        ]
        # A gateway serving another graph has its own assistants, not these.
        assert [a["graph_id"] for a in await on_other.assistants.search()] == ["demo"]
        with pytest.raises(NotFoundError):
            await on_other.assistants.get(made["assistant_id"])
        await on_a.assistants.delete(made["assistant_id"])
    finally:
        for client in (on_a, on_b, on_other):
            await client.aclose()
