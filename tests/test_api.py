"""The non-streaming routes and every kind of bad input."""

from __future__ import annotations

import httpx
import pytest
from sse import start_run, wait_status


def test_healthz_graph_and_page(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    graph = client.get("/graph").json()
    ids = {node["id"] for node in graph["nodes"]}
    assert {
        "__start__",
        "plan",
        "research_web",
        "research_docs",
        "merge",
        "lookup",
        "write",
        "__end__",
    } <= ids
    edges = {(e["source"], e["target"]): e["conditional"] for e in graph["edges"]}
    assert edges[("merge", "lookup")] is True and edges[("plan", "research_web")] is False
    assert graph["mermaid"].startswith("---") or "graph TD" in graph["mermaid"]
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"not json", 422, "invalid_body"),
        (b"[]", 422, "invalid_body"),
        (b'{"input": "text"}', 422, "invalid_body"),
        (b'{"input": {}, "on_disconnect": "sometimes"}', 422, "invalid_body"),
        (b'{"input": {}, "mode": "fast"}', 422, "invalid_body"),
        (b'{"input": {}, "typo": 1}', 422, "invalid_body"),
        (b'{"input": {"x": "' + b"a" * 2_000_000 + b'"}}', 413, "body_too_large"),
    ],
)
def test_bad_bodies_get_a_clear_json_error(
    client: httpx.Client, body: bytes, status: int, error: str
) -> None:
    for path in ("/runs", "/stream"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        assert response.json()["error"] == error
        assert response.json()["message"]


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("input=not-json", 422, "invalid_input"),
        ("input=[1,2]", 422, "invalid_input"),
        ("mode=fast", 400, "invalid_mode"),
        ("events=", 400, "invalid_events"),
        ("events=message", 400, "invalid_events"),
    ],
)
def test_bad_one_shot_queries_are_rejected(
    client: httpx.Client, query: str, status: int, error: str
) -> None:
    response = client.get(f"/stream?{query}")
    assert response.status_code == status
    assert response.json()["error"] == error


def test_one_shot_query_becomes_the_input(client: httpx.Client) -> None:
    with client.stream(
        "GET", '/stream?input={"delay":0.01,"tokens":1}&topic=q&token_delay=0&events=run.start'
    ) as response:
        first_event = next(line for line in response.iter_lines() if line.startswith("data:"))
    assert '"input":{"delay":0.01,"tokens":1,"topic":"q","token_delay":"0"}' in first_event


def test_bad_input_changes_nothing(client: httpx.Client) -> None:
    run_id = start_run(client)
    client.post("/runs", content=b"{", headers={"content-type": "application/json"})
    done = wait_status(client, run_id, "success")
    assert done["events"] > 10


def test_the_demo_can_skip_the_tool(client: httpx.Client) -> None:
    run_id = start_run(client, use_tool="false")
    with client.stream("GET", f"/runs/{run_id}/stream?events=node.start") as response:
        body = response.read().decode()
    assert '"node":"write"' in body and '"node":"lookup"' not in body
