"""A graph whose state holds an object no serializer takes (sample_graphs:holder keeps a
Connection, which holds a lock): it runs on default settings, its state reads back, and a
durable checkpointer refuses it in one line that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Spawn
from conftest import client_for as client
from sse import read_events

HOLDER = "sample_graphs:holder"
# How the gateway renders a value that is not JSON: its str().
RENDERED = "Connection(db)"


def test_a_state_holding_any_object_runs_on_default_settings(spawn: Spawn, store_url: str) -> None:
    srv = spawn(HOLDER, store_url=store_url)
    with client(srv) as c:
        created = c.post("/runs", json={"input": {"topic": "db"}})
        assert created.status_code == 201, created.text
        events = read_events(c, created.json()["stream_url"])
    end = events[-1].data
    assert end["status"] == "success", events
    assert end["output"] == {"topic": "db", "connection": RENDERED, "result": "used db"}


def test_the_state_of_such_a_thread_reads_back_in_both_dialects(spawn: Spawn) -> None:
    srv = spawn(HOLDER)  # the memory store, and its default checkpointer (memory://)
    with client(srv) as c:
        created = c.post("/runs", json={"input": {"topic": "db"}}).json()
        thread_id = read_events(c, created["stream_url"])[0].data["thread_id"]
        expected = {"topic": "db", "connection": RENDERED, "result": "used db"}
        for path in (
            f"/threads/{thread_id}/state",
            f"/langgraph/threads/{thread_id}/state",
        ):
            state = c.get(path)
            assert state.status_code == 200, (path, state.text)
            assert state.json()["values"] == expected, path
        assert c.get(f"/threads/{thread_id}").json()["values"] == expected
        history = c.get(f"/threads/{thread_id}/history")
        assert history.status_code == 200 and history.json()[0]["values"] == expected

        thread = c.post("/langgraph/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "holder", "input": {"topic": "db"}, "stream_mode": ["values"]}
        frames = read_events(
            c, f"/langgraph/threads/{thread}/runs/stream", method="POST", json_body=body
        )
        values = [f.data for f in frames if f.name == "values"]
        assert values[-1] == expected, frames
        assert c.get(f"/langgraph/threads/{thread}").json()["values"] == expected
        (found,) = c.post("/langgraph/threads/search", json={"ids": [thread]}).json()
        assert found["values"] == expected


@pytest.fixture
def durable(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> tuple[str, str]:
    """A durable checkpointer for the store (its URL, its name): SQLite beside the memory
    store, PostgreSQL beside Redis."""
    if store_url.startswith("memory"):
        return f"sqlite:///{tmp_path}/threads.db", "SQLite"
    return request.getfixturevalue("postgres_server").url, "PostgreSQL"


def test_a_durable_checkpointer_names_the_key_and_the_type_in_one_line(
    spawn: Spawn, store_url: str, durable: tuple[str, str]
) -> None:
    url, name = durable
    srv = spawn(HOLDER, store_url=store_url, checkpointer=url)
    with client(srv) as c:
        created = c.post("/runs", json={"input": {"topic": "db"}})
        assert created.status_code == 201, created.text
        events = read_events(c, created.json()["stream_url"])
    assert events[-1].data["status"] == "error"
    (error,) = [e.data["error"] for e in events if e.name == "run.error"]
    assert error == {
        "type": "UnstorableState",
        "message": (
            f"state key 'connection' holds a sample_graphs.Connection, which the {name} "
            "checkpointer cannot store: make it serializable (JSON types, LangChain messages, "
            "pydantic models, dataclasses), keep it out of the graph's state, or serve the graph "
            "with GATEWAY_CHECKPOINTER=memory:// (one process, memory store) or none (no threads)"
        ),
    }
