"""Serving a LangGraph project as it is: `python -m app serve langgraph.json` serves every
graph the file names (each a system assistant, on both APIs), sets its `env`, imports its
files, names in one line what it cannot honour, and keeps each thread its own graph's, in one
process and over Redis in two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, TESTS, PostgresServer, RedisServer, Server, Spawn, start_server
from langgraph_sdk import get_client

from app.assistants import system_assistant_id

PROJECT = TESTS / "data" / "project" / "langgraph.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("project"), str(PROJECT), log_level="info")
    yield srv
    srv.stop()


def test_every_graph_is_served_and_described(project: Server) -> None:
    with httpx.Client(base_url=project.url, timeout=30) as http:
        assert http.get("/graphs").json() == ["greeter", "counter"]
        assert http.get("/graph").json()["name"] == "greeter"
        counter = http.get("/graph", params={"name": "counter"}).json()
        assert counter["name"] == "counter" and "step" in [n["id"] for n in counter["nodes"]]
        missing = http.get("/graph", params={"name": "nobody"})
        assert missing.status_code == 404 and "greeter, counter" in missing.json()["message"]


def test_the_start_up_names_what_it_does_not_honour(project: Server) -> None:
    lines = [line for line in project.output().splitlines() if "not honoured" in line]
    assert len(lines) == 1 and "auth (set GATEWAY_AUTH)" in lines[0], project.output()
    # The image's settings are nothing to a gateway: not named.
    assert "python_version" not in lines[0]


def test_the_native_api_runs_the_graph_it_is_told_on_threads_of_their_own(
    project: Server,
) -> None:
    with httpx.Client(base_url=project.url, timeout=30) as http:
        thread = http.post("/threads", json={}).json()["thread_id"]
        for _ in range(2):
            run = http.post(f"/threads/{thread}/runs", json={"input": {}, "graph": "counter"})
            assert run.status_code == 201, run.text
            wait_for_idle(http, thread)
        # Read with its own graph: the counter's state, not the greeter's.
        assert http.get(f"/threads/{thread}/state").json()["values"] == {"count": 2}
        other = http.post(f"/threads/{thread}/runs", json={"input": {"name": "x"}})
        assert other.status_code == 409 and "counter" in other.json()["message"]
        unknown = http.post("/runs", json={"input": {}, "graph": "nobody"})
        assert unknown.status_code == 422 and "greeter, counter" in unknown.json()["message"]


def wait_for_idle(http: httpx.Client, thread_id: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while http.get(f"/threads/{thread_id}").json()["status"] == "busy":
        assert time.monotonic() < deadline, "the thread stayed busy"
        time.sleep(0.05)


async def test_langgraphs_sdk_finds_each_graph_as_an_assistant(project: Server) -> None:
    sdk = get_client(url=f"{project.url}/langgraph", timeout=30)
    try:
        found = await sdk.assistants.search(sort_by="graph_id", sort_order="asc")
        assert [(a["graph_id"], a["assistant_id"]) for a in found] == [
            ("counter", system_assistant_id("counter")),
            ("greeter", system_assistant_id("greeter")),
        ]
        # The project's env file reached the graph.
        greeted = await sdk.runs.wait(None, "greeter", input={"name": "Ada"})
        assert greeted["greeting"] == "hello from the project, Ada!"
        thread = await sdk.threads.create()
        await sdk.runs.wait(thread["thread_id"], "counter", input={})
        await sdk.runs.wait(thread["thread_id"], system_assistant_id("counter"), input={})
        assert (await sdk.threads.get_state(thread["thread_id"]))["values"] == {"count": 2}
        assert (await sdk.threads.get(thread["thread_id"]))["metadata"]["graph_id"] == "counter"
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await sdk.runs.wait(thread["thread_id"], "greeter", input={})
        assert refused.value.response.status_code == 409
        schemas = await sdk.assistants.get_schemas("counter")
        assert list(schemas["state_schema"]["properties"]) == ["count"]
        drawn = await sdk.assistants.get_graph("greeter")
        assert "greet" in [n["id"] for n in drawn["nodes"]]
        made = await sdk.assistants.create("counter", name="mine")
        assert (await sdk.runs.wait(None, made["assistant_id"], input={})) == {"count": 1}
    finally:
        await sdk.aclose()


async def test_two_processes_over_redis_serve_the_project_alike(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    a, b = spawn(str(PROJECT), **shared), spawn(str(PROJECT), **shared)
    on_a = get_client(url=f"{a.url}/langgraph", timeout=30)
    on_b = get_client(url=f"{b.url}/langgraph", timeout=30)
    try:
        thread = await on_a.threads.create()
        await on_a.runs.wait(thread["thread_id"], "counter", input={})
        await on_b.runs.wait(thread["thread_id"], "counter", input={})
        assert (await on_b.threads.get_state(thread["thread_id"]))["values"] == {"count": 2}
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await on_b.runs.wait(thread["thread_id"], "greeter", input={})
        assert refused.value.response.status_code == 409
    finally:
        await on_a.aclose()
        await on_b.aclose()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "cannot read it"),
        ("not json", "not JSON"),
        ({"graphs": {}}, "names no graph"),
        ({"graphs": {"a": "nowhere"}}, "expected './file.py:attr'"),
        ({"graphs": {"a": "./missing.py:graph"}}, "does not exist"),
        ({"graphs": {"a": "./g.py:graph"}, "env": "missing.env"}, "env file 'missing.env'"),
        ({"graphs": {"a": "./g.py:graph"}, "ui": {"b": "./b.tsx"}}, "graphs it does not serve"),
    ],
)
def test_a_project_that_cannot_be_served_fails_in_one_line(
    tmp_path: Path, config: object, message: str
) -> None:
    file = tmp_path / "langgraph.json"
    if config is not None:
        file.write_text(config if isinstance(config, str) else json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", str(file), "--port", "1"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_a_project_s_ui_entry_serves_its_graph_s_components(tmp_path: Path) -> None:
    folder = TESTS / "data" / "project"
    config = {
        "graphs": {"greeter": str(folder / "greeter.py") + ":graph"},
        "ui": {"greeter": str(TESTS / "js" / "ui" / "weather.tsx")},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    srv = start_server(tmp_path, str(tmp_path / "langgraph.json"))
    try:
        answer = httpx.post(f"{srv.url}/langgraph/ui/greeter", json={"name": "weather"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert f"{srv.url}/langgraph/ui/greeter/entrypoint.js" in answer.text
        script = httpx.get(f"{srv.url}/langgraph/ui/greeter/entrypoint.js", timeout=10)
        assert script.status_code == 200 and "__LGUI_greeter" in script.text
    finally:
        srv.stop()


async def test_a_thread_made_with_supersteps_has_that_history(project: Server) -> None:
    sdk = get_client(url=f"{project.url}/langgraph", timeout=30)
    try:
        steps = [
            {"updates": [{"values": {"count": 1}, "as_node": "step"}]},
            {"updates": [{"values": {"count": 2}, "as_node": "step"}]},
        ]
        thread = await sdk.threads.create(graph_id="counter", supersteps=steps)
        assert thread["values"] == {"count": 3}
        history = await sdk.threads.get_history(thread["thread_id"])
        assert [h["values"].get("count") for h in history][:2] == [3, 1]
        # It goes on from there, with its own graph.
        await sdk.runs.wait(thread["thread_id"], "counter", input={})
        assert (await sdk.threads.get_state(thread["thread_id"]))["values"] == {"count": 4}
        async with httpx.AsyncClient(base_url=f"{project.url}/langgraph", timeout=30) as http:
            bad = await http.post(
                "/threads",
                json={
                    "thread_id": "never-made",
                    "metadata": {"graph_id": "counter"},
                    "supersteps": [{"updates": [{"values": {"count": 1}, "as_node": "nobody"}]}],
                },
            )
            assert bad.status_code == 400 and "nobody" in bad.json()["detail"], bad.text
            assert (await http.get("/threads/never-made")).status_code == 404
    finally:
        await sdk.aclose()
