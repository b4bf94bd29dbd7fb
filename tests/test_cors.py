"""A page on another origin uses the gateway: fetch and EventSource, in real Chromium, when its
origin is listed in GATEWAY_CORS_ORIGINS; blocked when it is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Server, start_server
from pageproxy import PageServer
from playwright.sync_api import Browser

PAGE = """<!doctype html><meta charset="utf-8"><title>another origin</title>
<script>
window.__events = [];
window.run = async (gateway) => {
  try {
    const created = await fetch(`${gateway}/runs`, {
      method: "POST",
      headers: {"content-type": "application/json", "authorization": "Bearer KEY"},
      body: JSON.stringify({input: {delay: 0.01, tokens: 3, token_delay: 0}}),
    });
    const run = await created.json();
    await new Promise((resolve) => {
      const source = new EventSource(`${gateway}${run.stream_url}`);
      for (const name of ["run.start", "token", "run.end"]) {
        source.addEventListener(name, (e) => window.__events.push(name));
      }
      source.addEventListener("run.end", () => { source.close(); resolve(); });
      source.onerror = () => { source.close(); window.__events.push("error"); resolve(); };
    });
    return "ok";
  } catch (error) {
    return `blocked: ${error}`;
  }
};
// An app's own header (or the SDKs' defaultHeaders), on a GET, a JSON POST, a PATCH and a
// DELETE: each needs a preflight that names it.
window.custom = async (gateway) => {
  const headers = {"x-app-auth": "app-token", "x-api-key": "KEY"};
  const send = async (method, path, body) => {
    const answer = await fetch(`${gateway}/langgraph${path}`, {
      method,
      headers: body ? {...headers, "content-type": "application/json"} : headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    return [answer.status, answer.status === 204 ? null : await answer.json()];
  };
  try {
    const [, info] = await send("GET", "/info");
    const [, thread] = await send("POST", "/threads", {metadata: {from: "page"}});
    const [, patched] = await send("PATCH", `/threads/${thread.thread_id}`, {metadata: {seen: 1}});
    const [deleted] = await send("DELETE", `/threads/${thread.thread_id}`);
    return {info, thread_id: thread.thread_id, patched: patched.metadata, deleted};
  } catch (error) {
    return `blocked: ${error}`;
  }
};
// LangGraph's JS client finds its run through Content-Location: a header CORS must expose.
window.lg = async (gateway) => {
  const created = await fetch(`${gateway}/langgraph/runs`, {
    method: "POST",
    headers: {"content-type": "application/json", "x-api-key": "KEY"},
    body: JSON.stringify({assistant_id: "demo", input: {delay: 0, tokens: 1, token_delay: 0}}),
  });
  return created.headers.get("content-location");
};
</script>"""
KEY = "key-page-0123456789abcdef"


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[PageServer, PageServer]]:
    (tmp_path / "index.html").write_text(PAGE.replace("KEY", KEY))
    with (
        PageServer(tmp_path, "http://127.0.0.1:9") as listed,
        PageServer(tmp_path, "http://127.0.0.1:9") as unlisted,
    ):
        yield listed, unlisted


@pytest.fixture
def gateway(tmp_path: Path, pages: tuple[PageServer, PageServer]) -> Iterator[Server]:
    listed, _ = pages
    srv = start_server(
        tmp_path,
        cors_origins=f"{listed.url}, http://elsewhere.example",
        auth="api-keys",
        api_keys=f"page:{KEY}",
    )
    yield srv
    srv.stop()


def test_a_listed_origin_fetches_and_streams_and_an_unlisted_one_cannot(
    browser: Browser, pages: tuple[PageServer, PageServer], gateway: Server
) -> None:
    listed, unlisted = pages
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{listed.url}/")
        assert page.evaluate("(g) => window.run(g)", gateway.url) == "ok"
        assert page.evaluate("window.__events")[0] == "run.start"
        assert page.evaluate("window.__events")[-1] == "run.end"
        assert page.evaluate("(g) => window.lg(g)", gateway.url).startswith("/threads/")
        other = context.new_page()
        other.goto(f"{unlisted.url}/")
        assert other.evaluate("(g) => window.run(g)", gateway.url).startswith("blocked")
    finally:
        context.close()


def test_a_page_may_send_headers_of_its_own_with_any_method(
    browser: Browser, pages: tuple[PageServer, PageServer], gateway: Server
) -> None:
    listed, _ = pages
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{listed.url}/")
        answered = page.evaluate("(g) => window.custom(g)", gateway.url)
    finally:
        context.close()
    assert isinstance(answered, dict), answered
    assert answered["info"]["flags"]["crons"] is True
    assert answered["patched"] == {"from": "page", "seen": 1}
    assert answered["deleted"] == 204
    gone = httpx.get(
        f"{gateway.url}/langgraph/threads/{answered['thread_id']}", headers={"x-api-key": KEY}
    )
    assert gone.status_code == 404


def test_a_preflight_is_answered_with_the_headers_it_asks_for(
    pages: tuple[PageServer, PageServer], gateway: Server
) -> None:
    listed, _ = pages
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        asked = {
            "Origin": listed.url,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "x-app-auth, x-request-id, content-type",
        }
        for path in ("/threads/t1", "/langgraph/threads/t1"):
            answer = httpx.options(f"{gateway.url}{path}", headers=asked)
            assert answer.status_code == 200, (method, path, answer.text)
            assert method in answer.headers["access-control-allow-methods"]
            allowed = answer.headers["access-control-allow-headers"].split(",")
            assert {"x-app-auth", "x-request-id", "content-type"} <= {h.strip() for h in allowed}


def test_the_headers_a_page_may_send_can_be_listed(
    tmp_path: Path, pages: tuple[PageServer, PageServer]
) -> None:
    listed, _ = pages
    srv = start_server(tmp_path, cors_origins=listed.url, cors_headers="Authorization, X-Api-Key")
    try:
        asked = {"Origin": listed.url, "Access-Control-Request-Method": "POST"}
        ok = {**asked, "Access-Control-Request-Headers": "x-api-key, content-type"}
        assert httpx.options(f"{srv.url}/langgraph/threads", headers=ok).status_code == 200
        other = {**asked, "Access-Control-Request-Headers": "x-app-auth"}
        assert httpx.options(f"{srv.url}/langgraph/threads", headers=other).status_code == 400
    finally:
        srv.stop()


def test_preflights_name_what_may_be_sent_and_read(
    pages: tuple[PageServer, PageServer], gateway: Server
) -> None:
    listed, unlisted = pages
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, last-event-id, x-api-key",
    }
    ok = httpx.options(f"{gateway.url}/runs", headers={"Origin": listed.url, **asked})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == listed.url
    assert ok.headers["access-control-allow-credentials"] == "true"
    allowed = ok.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "last-event-id", "x-api-key"} <= {
        h.strip() for h in allowed.split(",")
    }
    refused = httpx.options(f"{gateway.url}/runs", headers={"Origin": unlisted.url, **asked})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    answer = httpx.get(f"{gateway.url}/healthz", headers={"Origin": listed.url})
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert "content-location" in exposed and "location" in exposed
    lg = httpx.options(f"{gateway.url}/langgraph/threads", headers={"Origin": listed.url, **asked})
    assert lg.status_code == 200
