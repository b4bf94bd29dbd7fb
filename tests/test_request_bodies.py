"""A JSON body is read as JSON whatever content type it comes with, as LangGraph's server reads
it (Agent Chat UI's proxy sends it as text/plain, `curl -d` as a form, some clients with none),
on both APIs; a body that is not JSON is still a 422. A page of an origin CORS does not admit
may send text/plain without a preflight, so from there only a JSON content type is read."""

from __future__ import annotations

import httpx
import pytest
from conftest import Server

UNTYPED = [
    {"content-type": "text/plain;charset=UTF-8"},
    {"content-type": "application/x-www-form-urlencoded"},
    {},
]


def _post(client: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # httpx adds no content type to raw content.
    return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("headers", UNTYPED, ids=["text/plain", "form", "none"])
def test_a_json_body_of_another_content_type_is_read_as_json(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    created = _post(client, "/langgraph/threads", b'{"metadata": {"via": "proxy"}}', headers)
    assert created.status_code == 200, created.text
    assert created.json()["metadata"]["via"] == "proxy"
    thread_id = created.json()["thread_id"]
    run = _post(
        client,
        f"/langgraph/threads/{thread_id}/runs/wait",
        b'{"assistant_id": "demo", "input": {"delay": 0, "tokens": 1, "token_delay": 0}}',
        headers,
    )
    assert run.status_code == 200, run.text
    native = _post(client, "/threads", b'{"metadata": {"via": "curl"}}', headers)
    assert native.status_code == 201, native.text
    assert native.json()["metadata"] == {"via": "curl"}
    started = _post(client, "/runs", b'{"input": {"delay": 0, "tokens": 1}}', headers)
    assert started.status_code == 201, started.text


@pytest.mark.parametrize("headers", UNTYPED, ids=["text/plain", "form", "none"])
def test_a_body_that_is_not_json_is_still_a_422(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    for path in ("/langgraph/threads", "/langgraph/runs/wait", "/threads", "/runs"):
        answer = _post(client, path, b"metadata=x", headers)
        assert answer.status_code == 422, (path, answer.text)


def test_a_page_of_an_origin_not_admitted_cannot_skip_the_preflight(
    client: httpx.Client, server: Server
) -> None:
    # What a <form> or a no-cors fetch of any site sends: no preflight asked for text/plain.
    cross_site = {"content-type": "text/plain", "origin": "http://elsewhere.example"}
    before = client.post("/langgraph/threads/search", json={"limit": 1000}).json()
    for path in ("/langgraph/threads", "/threads", "/runs", "/stream"):
        body = b'{"metadata": {}}' if "threads" in path else b'{"input": {}}'
        answer = _post(client, path, body, cross_site)
        assert answer.status_code == 422, (path, answer.text)
    assert client.post("/langgraph/threads/search", json={"limit": 1000}).json() == before
    # The gateway's own pages are of its origin: read as JSON.
    own = {"content-type": "text/plain", "origin": server.url}
    assert _post(client, "/threads", b'{"metadata": {}}', own).status_code == 201
