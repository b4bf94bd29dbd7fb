"""LangGraph's store (long-term memory) against a real uvicorn: LangGraph's Python SDK and raw
HTTP on both APIs, the same store handed to the graph, bad input, and PostgreSQL's store shared
by two processes over Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import TESTS, PostgresServer, RedisServer, Server, Spawn, run_js, start_server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("graph-store"), "store_graphs:memory")
    yield srv
    srv.stop()


@pytest.fixture
async def sdk(memory: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{memory.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


def notes_after(server: Server, who: str, note: str = "") -> list[str]:
    """A run of the graph: the notes it finds in the store, its own included."""
    answer = httpx.post(
        f"{server.url}/langgraph/runs/wait",
        json={"assistant_id": "memory", "input": {"who": who, "note": note}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["notes"]


async def test_the_sdk_puts_gets_searches_lists_and_deletes(sdk: LangGraphClient) -> None:
    space = ["users", uuid.uuid4().hex]
    await sdk.store.put_item(space, "a", {"colour": "blue", "size": 1})
    await sdk.store.put_item([*space, "deep"], "b", {"colour": "red", "size": 2})
    item = await sdk.store.get_item(space, "a")
    assert item is not None
    assert {k: item[k] for k in ("namespace", "key", "value")} == {
        "namespace": space,
        "key": "a",
        "value": {"colour": "blue", "size": 1},
    }
    assert item["created_at"] and item["updated_at"]
    found = await sdk.store.search_items(space, filter={"colour": "red"})
    assert [(i["key"], i["namespace"]) for i in found["items"]] == [("b", [*space, "deep"])]
    every = await sdk.store.search_items(space, limit=1, offset=1)
    assert len(every["items"]) == 1
    listed = await sdk.store.list_namespaces(prefix=space)
    assert sorted(listed["namespaces"]) == [space, [*space, "deep"]]
    shallow = await sdk.store.list_namespaces(prefix=space, max_depth=2)
    assert shallow["namespaces"] == [space]
    # Put again: the value is replaced.
    await sdk.store.put_item(space, "a", {"colour": "green"})
    again = await sdk.store.get_item(space, "a")
    assert again is not None and again["value"] == {"colour": "green"}
    await sdk.store.delete_item(space, "a")
    assert await sdk.store.get_item(space, "a") is None


def test_the_graph_remembers_in_the_store_the_api_reads(memory: Server) -> None:
    who = uuid.uuid4().hex
    assert notes_after(memory, who, "first") == ["first"]
    assert notes_after(memory, who, "second") == ["first", "second"]
    found = httpx.post(
        f"{memory.url}/store/items/search", json={"namespace_prefix": ["notes", who]}, timeout=10
    ).json()["items"]
    assert sorted(i["value"]["text"] for i in found) == ["first", "second"]
    # What the API puts, the next run sees.
    httpx.put(
        f"{memory.url}/store/items",
        json={"namespace": ["notes", who], "key": "k", "value": {"text": "from the api"}},
        timeout=10,
    ).raise_for_status()
    assert notes_after(memory, who) == ["first", "from the api", "second"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PUT", "/store/items", {"namespace": ["a.b"], "key": "k", "value": {}}, 422),
        ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, 422),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "", "value": {}}, 422),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": 3}, 422),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "ttl": 5}, 422),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "extra": 1}, 422),
        ("POST", "/store/items/search", {"namespace_prefix": ["a"], "query": "x"}, 422),
        ("POST", "/store/items/search", {"limit": 0}, 422),
        ("POST", "/store/namespaces", {"max_depth": 0}, 422),
        ("DELETE", "/store/items", {"namespace": ["a"]}, 422),
    ],
)
@pytest.mark.parametrize("api", ["", "/langgraph"])
def test_bad_input_is_422(
    memory: Server, api: str, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    answer = httpx.request(method, f"{memory.url}{api}{path}", json=body, timeout=10)
    assert answer.status_code == status, answer.text
    shape = {"detail"} if api else {"error", "message"}
    assert shape <= set(answer.json())


def test_a_missing_item_is_null_and_bad_namespaces_are_refused(memory: Server) -> None:
    url = f"{memory.url}/langgraph/store/items"
    missing = httpx.get(url, params={"namespace": "no.such", "key": "k"}, timeout=10)
    assert missing.status_code == 200 and missing.json() is None
    assert httpx.get(url, params={"namespace": "a..b", "key": "k"}).status_code == 422
    assert httpx.get(url, params={"namespace": "a"}).status_code == 422  # no key


def test_without_a_store_the_routes_say_how_to_turn_it_on(spawn: Spawn) -> None:
    srv = spawn(graph_store="none")
    answer = httpx.post(f"{srv.url}/store/namespaces", json={}, timeout=10)
    assert answer.status_code == 501 and "GATEWAY_GRAPH_STORE" in answer.json()["message"]


def test_postgres_store_is_shared_by_processes_with_ttls(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {
        "store_url": redis_server.url,
        "checkpointer": postgres_server.url,
        "graph_store": postgres_server.url,
    }
    a = spawn("store_graphs:memory", **shared)
    b = spawn("store_graphs:memory", **shared)
    who = uuid.uuid4().hex
    assert notes_after(a, who, "on a") == ["on a"]
    assert notes_after(b, who, "on b") == ["on a", "on b"]
    item = {"namespace": ["ttl", who], "key": "k", "value": {"v": 1}, "ttl": 10}
    assert httpx.put(f"{a.url}/langgraph/store/items", json=item, timeout=10).status_code == 204
    got = httpx.get(
        f"{b.url}/langgraph/store/items",
        params={"namespace": f"ttl.{who}", "key": "k", "refresh_ttl": "true"},
        timeout=10,
    ).json()
    assert got["value"] == {"v": 1}


def test_a_shared_event_store_refuses_an_in_memory_graph_store(
    tmp_path: Any, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    with pytest.raises(RuntimeError, match="GATEWAY_GRAPH_STORE 'memory://' remembers in one"):
        start_server(
            tmp_path,
            store_url=redis_server.url,
            checkpointer=postgres_server.url,
            graph_store="memory://",
        )


def test_the_js_sdk_uses_the_store(memory: Server) -> None:
    seen = run_js("store.mjs", f"{memory.url}/langgraph", package="@langchain/langgraph-sdk")
    space = seen["space"]
    assert seen["item"]["value"] == {"colour": "blue"} and seen["item"]["namespace"] == space
    assert seen["item"]["createdAt"] == seen["item"]["created_at"]
    assert [i["key"] for i in seen["found"]["items"]] == ["b"]
    assert sorted(seen["listed"]["namespaces"]) == [space, [*space, "deep"]]
    assert seen["gone"] is None


def test_the_same_sdk_script_gives_the_same_shapes_on_langgraph_dev(
    memory: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from test_langgraph_side_by_side import langgraph_dev

    graphs = {"memory": f"{TESTS / 'store_graphs.py'}:memory"}
    with langgraph_dev(tmp_path_factory.mktemp("store-langgraph-dev"), graphs) as url:
        theirs = run_js("store.mjs", url, package="@langchain/langgraph-sdk")
    ours = run_js("store.mjs", f"{memory.url}/langgraph", package="@langchain/langgraph-sdk")

    def shape(value: Any) -> Any:
        """The value with what differs by nature (times, the run's own names) left out."""
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if not k.endswith(("_at", "At"))}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return "<space>" if isinstance(value, str) and value.startswith("user-") else value

    assert shape(ours) == shape(theirs)
