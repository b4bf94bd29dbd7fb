"""The live page in a real headless Chromium: graph states, tokens, resume, errors, safety."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ROOT, TESTS, Server, Spawn
from playwright.sync_api import Browser, Page, Route, expect
from proxy import CuttableProxy

DEMO_NODES = ["plan", "research_web", "research_docs", "merge", "lookup", "write"]
RESULTS = ROOT / "test-results"
# Records every change the page makes, so a test can check what a person would have seen
# over time rather than only the final picture.
RECORDER = """
window.__nodes = []; window.__tokens = []; window.__conn = [];
new MutationObserver(() => {
  const states = {};
  for (const g of document.querySelectorAll('#graph [data-node]')) {
    states[g.dataset.node] = g.dataset.state;
  }
  const last = window.__nodes[window.__nodes.length - 1];
  if (!last || JSON.stringify(last) !== JSON.stringify(states)) window.__nodes.push(states);
  const tokens = document.getElementById('tokens');
  if (tokens) {
    const n = tokens.textContent.length;
    if (window.__tokens[window.__tokens.length - 1] !== n) window.__tokens.push(n);
  }
  const conn = document.getElementById('conn');
  if (conn && window.__conn[window.__conn.length - 1] !== conn.textContent) {
    window.__conn.push(conn.textContent);
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()
    assert errors == [], errors


def open_page(page: Page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{query}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def start(page: Page, **input_: Any) -> str:
    page.fill("#input", json.dumps(input_))
    page.click("#start")
    expect(page).to_have_url(re.compile(r"[?&]run="))
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["run"][0]


def wait_run_status(page: Page, status: str, timeout: float = 30) -> None:
    expect(page.locator("#run-status")).to_have_text(status, timeout=timeout * 1000)


def wait_for_tokens(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#log li[data-event=token]').length >= n", arg=count
    )


def node_state(page: Page, node: str) -> str:
    return page.locator(f'#graph [data-node="{node}"]').get_attribute("data-state") or ""


def log_rows(page: Page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#log li", "rows => rows.map(r => [r.dataset.id, r.dataset.event])"
    )


def assert_log_is_the_whole_run(page: Page, base: str, run_id: str) -> None:
    rows = log_rows(page)
    ids = [row_id for row_id, _ in rows]
    assert len(ids) == len(set(ids)), "a duplicated row"
    total = httpx.get(f"{base}/runs/{run_id}", timeout=5).json()["events"]
    assert ids == [f"{run_id}.{seq}" for seq in range(1, total + 1)], "missing or reordered rows"
    assert rows[-1][1] == "run.end"


def final_output(base: str, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/runs/{run_id}/stream?events=run.end", timeout=10)
    data = next(line for line in response.text.splitlines() if line.startswith("data: "))
    return json.loads(data.removeprefix("data: "))["output"]


def test_a_demo_run_shows_every_node_and_the_tokens_live(page: Page, server: Server) -> None:
    open_page(page, server.url)
    assert {node_state(page, n) for n in DEMO_NODES} == {"idle"}
    expect(page.locator("#conn")).to_have_text("closed")
    run_id = start(page, topic="the page", delay=0.3, tokens=30, token_delay=0.03)
    wait_run_status(page, "success")

    history: list[dict[str, str]] = [s for s in page.evaluate("window.__nodes") if s]
    for node in DEMO_NODES:
        states = [snapshot[node] for snapshot in history]
        seen = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
        assert seen == ["idle", "running", "done"], (node, seen)

    def first(node: str, state: str) -> int:
        return next(i for i, snap in enumerate(history) if snap[node] == state)

    assert any(s["research_web"] == s["research_docs"] == "running" for s in history)
    assert first("plan", "done") < first("research_web", "running")
    assert max(first("research_web", "done"), first("research_docs", "done")) < first(
        "merge", "running"
    )
    assert first("lookup", "done") < first("write", "running")

    lengths: list[int] = page.evaluate("window.__tokens")
    assert len(lengths) >= 10 and lengths == sorted(lengths), lengths
    text = page.inner_text("#tokens")
    assert text == final_output(server.url, run_id)["answer"] and len(text) == lengths[-1]
    expect(page.locator('#graph [data-node="write"] .node-detail')).to_have_text(
        re.compile(r"^\d+\.\d\d s$")
    )
    expect(page.locator("#conn")).to_have_text("closed")
    expect(page.locator("#tools li")).to_have_count(1)
    expect(page.locator(".progress-row")).to_have_count(3)
    assert page.evaluate("window.__conn").count("open") == 1
    assert_log_is_the_whole_run(page, server.url, run_id)

    page.click("#log li[data-event='node.end']")
    assert json.loads(page.inner_text("#event-json"))["node"] == "plan"

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=RESULTS / "page-demo-run.png", full_page=True)
    if os.environ.get("UPDATE_SCREENSHOT"):
        page.screenshot(path=ROOT / "docs" / "screenshot.png")


def test_drop_resumes_with_no_duplicate_and_nothing_missing(page: Page, server: Server) -> None:
    open_page(page, server.url)
    run_id = start(page, delay=0.05, tokens=80, token_delay=0.02)
    for count in (5, 30):
        wait_for_tokens(page, count)
        page.click("#drop")
    wait_run_status(page, "success")
    assert_log_is_the_whole_run(page, server.url, run_id)
    conn = page.evaluate("window.__conn")
    assert conn.count("reconnecting") == 2 and conn[-1] == "closed", conn
    assert page.inner_text("#tokens") == final_output(server.url, run_id)["answer"]


def test_the_browser_reconnects_by_itself_after_a_network_failure(
    page: Page, server: Server
) -> None:
    with CuttableProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
        base = f"http://127.0.0.1:{proxy.port}"
        open_page(page, base)
        run_id = start(page, delay=0.05, tokens=120, token_delay=0.03)
        wait_for_tokens(page, 10)
        assert proxy.cut() >= 1
        expect(page.locator("#conn")).to_have_text("reconnecting")
        expect(page.locator("#conn")).to_have_text("open", timeout=10_000)
        wait_run_status(page, "success")
        assert_log_is_the_whole_run(page, base, run_id)


def test_requests_the_network_drops_are_tried_again_or_reported(page: Page, server: Server) -> None:
    # The page asks for a run's stream address before every connect; the first two asks
    # fail as a cut connection does (no response at all).
    dropped: list[str] = []

    def drop_two(route: Route) -> None:
        if len(dropped) < 2:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"/runs/[^/?]+$"), drop_two)
    open_page(page, server.url)
    run_id = start(page, delay=0.05, tokens=30, token_delay=0.02)
    wait_run_status(page, "success")
    assert len(dropped) == 2
    assert_log_is_the_whole_run(page, server.url, run_id)
    conn = page.evaluate("window.__conn")
    assert conn.index("reconnecting") < conn.index("open"), conn

    # An action whose request gets no answer says so, and nothing is left unhandled.
    page.route(re.compile(r"/runs/[^/?]+/cancel$"), lambda route: route.abort("failed"))
    run_id = start(page, delay=1)
    expect(page.locator("#run-status")).to_have_text("running")
    page.click("#cancel")
    expect(page.locator("#run-error")).to_contain_text("the gateway could not be reached")


def test_a_failing_node_shows_its_error(page: Page, server: Server) -> None:
    open_page(page, server.url)
    start(page, delay=0.05, tokens=3, fail="merge")
    wait_run_status(page, "error")
    assert node_state(page, "merge") == "error"
    assert node_state(page, "research_web") == "done"
    assert node_state(page, "write") == "idle"
    expect(page.locator('#graph [data-node="merge"] title')).to_contain_text("DemoFailure")
    expect(page.locator("#run-error")).to_contain_text("node 'merge' failed on purpose")
    expect(page.locator("#conn")).to_have_text("closed")


def test_cancel_stops_the_run(page: Page, server: Server) -> None:
    open_page(page, server.url)
    start(page, delay=1)
    expect(page.locator('#graph [data-node="plan"]')).to_have_attribute("data-state", "running")
    page.click("#cancel")
    wait_run_status(page, "cancelled")
    expect(page.locator("#conn")).to_have_text("closed")


# A response whose connection is cut after its headers: the body's read fails, which
# Chromium reports with the same "Failed to fetch" as a request that got no answer.
CUT_BODIES = """
const realFetch = window.fetch;
window.fetch = async (url, options) => {
  const response = await realFetch(url, options);
  if (!window.__cutBodies || !window.__cutBodies.test(String(url))) return response;
  const body = new ReadableStream({ start(c) { c.error(new TypeError("Failed to fetch")); } });
  return new Response(body, { status: response.status, headers: response.headers });
};
"""


def test_a_body_cut_off_midway_is_reported_not_left_unhandled(page: Page, server: Server) -> None:
    page.add_init_script(CUT_BODIES)
    open_page(page, server.url)
    start(page, delay=0.01, tokens=3, token_delay=0.01)
    wait_run_status(page, "success")
    # The thread's run list, read again when the run ends and on a reload, arrives cut off.
    page.add_init_script("window.__cutBodies = /\\/threads\\/[^/]+\\/runs$/;")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#run-error")).to_contain_text("the gateway could not be reached")
    # The fixture then checks that no error went unhandled on the page.


def test_reload_shows_the_same_finished_run(page: Page, server: Server) -> None:
    open_page(page, server.url)
    run_id = start(page, delay=0.02, tokens=10, token_delay=0.01)
    wait_run_status(page, "success")
    before = (log_rows(page), page.inner_text("#tokens"), [node_state(page, n) for n in DEMO_NODES])
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    wait_run_status(page, "success")
    expect(page.locator("#run-id")).to_have_text(run_id)
    after = (log_rows(page), page.inner_text("#tokens"), [node_state(page, n) for n in DEMO_NODES])
    assert after == before
    assert_log_is_the_whole_run(page, server.url, run_id)


def test_html_from_a_graph_is_shown_as_text(page: Page, server: Server) -> None:
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    open_page(page, server.url)
    start(page, topic=payload, delay=0.02, tokens=3, token_delay=0)
    wait_run_status(page, "success")
    assert payload in page.inner_text("#tokens")
    assert payload in page.inner_text("#tools")
    page.click("#log li[data-event='node.end']")
    assert "plan: explain <img src=x onerror=" in page.inner_text("#event-json")
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None


@pytest.mark.parametrize(
    ("width", "height", "scheme"),
    [(1280, 800, "light"), (1280, 800, "dark"), (390, 844, "light"), (390, 844, "dark")],
)
def test_the_page_fits_and_follows_the_system_theme(
    browser: Browser, server: Server, width: int, height: int, scheme: str
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        open_page(page, server.url)
        start(page, delay=0.02, tokens=5, token_delay=0)
        wait_run_status(page, "success")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background not in ("rgb(246, 247, 249)",)
        assert dark == (scheme == "dark"), background
        RESULTS.mkdir(exist_ok=True)
        page.screenshot(path=RESULTS / f"page-{width}x{height}-{scheme}.png", full_page=True)
    finally:
        context.close()


def test_attaching_to_an_unknown_run_says_so(page: Page, server: Server) -> None:
    open_page(page, server.url, "?run=nosuchrun")
    expect(page.locator("#conn")).to_have_text("closed")
    expect(page.locator("#run-error")).to_contain_text("unknown")


def address(page: Page) -> dict[str, str]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    return {key: values[0] for key, values in query.items()}


def approve_and_follow(page: Page, base: str, paused_run: str) -> str:
    page.click("#interrupt button.approve")
    expect(page).not_to_have_url(re.compile(f"run={paused_run}"))
    run_id = address(page)["run"]
    wait_run_status(page, "success")
    expect(page.locator("#interrupt")).to_be_hidden()
    expect(page.locator("#thread-status")).to_have_text("idle")
    assert node_state(page, "lookup") == "done" and node_state(page, "write") == "done"
    expect(page.locator("#tools li")).to_have_count(1)
    assert page.inner_text("#tokens") == final_output(base, run_id)["answer"]
    assert_log_is_the_whole_run(page, base, run_id)
    return run_id


def test_the_approval_flow_pauses_asks_and_follows_the_resumed_run(
    page: Page, server: Server
) -> None:
    open_page(page, server.url)
    page.check("#approve")
    paused = start(page, topic="approvals", delay=0.05, tokens=30, token_delay=0.03)
    wait_run_status(page, "interrupted")
    thread_id = address(page)["thread"]
    expect(page.locator("#thread-id")).to_have_text(thread_id)
    expect(page.locator("#thread-status")).to_have_text("interrupted")
    expect(page.locator('#graph [data-node="lookup"]')).to_have_attribute("data-state", "waiting")
    assert node_state(page, "write") == "idle"
    expect(page.locator(".interrupt-question")).to_have_text(
        "Look 'approvals' up with the lookup tool?"
    )
    expect(page.locator("#tools li")).to_have_count(0)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=RESULTS / "page-waiting.png", full_page=True)
    page.evaluate("window.__tokens = []")
    approve_and_follow(page, server.url, paused)
    lengths: list[int] = page.evaluate("window.__tokens")
    assert len(lengths) >= 10 and lengths == sorted(lengths), "the answer did not stream"
    expect(page.locator("#conversation li")).to_have_count(2)
    expect(page.locator("#conversation li").first).to_have_text("approvals")
    expect(page.locator("#thread-runs li")).to_have_count(2)
    assert address(page)["thread"] == thread_id
    page.screenshot(path=RESULTS / "page-approved.png", full_page=True)


def test_a_reload_while_waiting_shows_the_question_and_approves_from_there(
    page: Page, server: Server
) -> None:
    open_page(page, server.url)
    page.check("#approve")
    paused = start(page, topic="reloads", delay=0.02, tokens=5, token_delay=0.01)
    wait_run_status(page, "interrupted")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    wait_run_status(page, "interrupted")
    expect(page.locator(".interrupt-question")).to_have_text(
        "Look 'reloads' up with the lookup tool?"
    )
    expect(page.locator('#graph [data-node="lookup"]')).to_have_attribute("data-state", "waiting")
    run_id = approve_and_follow(page, server.url, paused)
    assert final_output(server.url, run_id)["facts"].startswith("reloads: text/event-stream")
    # The thread alone in the address shows its latest run.
    open_page(page, server.url, f"?thread={address(page)['thread']}")
    wait_run_status(page, "success")
    expect(page.locator("#run-id")).to_have_text(run_id)


def test_rejecting_skips_the_tool(page: Page, server: Server) -> None:
    open_page(page, server.url)
    page.check("#approve")
    start(page, topic="no", delay=0.02, tokens=3, token_delay=0)
    wait_run_status(page, "interrupted")
    page.click("#interrupt button.reject")
    expect(page).to_have_url(re.compile(r"run="))
    wait_run_status(page, "success")
    expect(page.locator("#tools li")).to_have_count(0)
    assert "not approved" in final_output(server.url, address(page)["run"])["facts"]


def test_other_interrupts_are_answered_with_json(page: Page, make_server) -> None:
    srv: Server = make_server("sample_graphs:approvals")
    open_page(page, srv.url)
    start(page)
    wait_run_status(page, "interrupted")
    expect(page.locator(".interrupt-item")).to_have_count(2)
    for node, answer in (("ask_a", '"yes"'), ("ask_b", '"no"')):
        card = page.locator(".interrupt-item", has_text=f"{node} asks:")
        card.locator("textarea").fill(answer)
    page.click("#resume")
    expect(page).to_have_url(re.compile(r"run="))
    wait_run_status(page, "success")
    assert sorted(final_output(srv.url, address(page)["run"])["answers"]) == ["a=yes", "b=no"]


PAGE_KEY = "page-key-0123456789abcdef"


def test_with_auth_on_the_page_asks_for_a_key_and_streams_with_a_token(
    page: Page, make_server
) -> None:
    srv = make_server(auth="api-keys", api_keys=f"alice:{PAGE_KEY}", stream_token_seconds=2)
    authorized = {"authorization": f"Bearer {PAGE_KEY}"}
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    with CuttableProxy(int(srv.url.rsplit(":", 1)[1])) as proxy:
        base = f"http://127.0.0.1:{proxy.port}"
        page.goto(f"{base}/")
        expect(page.locator("#auth")).to_be_visible()
        page.fill("#api-key", "not-the-key")
        page.click("#auth button")
        expect(page.locator("#auth-error")).to_have_text("that key was not accepted")
        page.fill("#api-key", PAGE_KEY)
        page.click("#auth button")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.locator("#auth")).to_be_hidden()

        run_id = start(page, delay=0.05, tokens=150, token_delay=0.03)
        wait_for_tokens(page, 5)
        page.wait_for_timeout(2500)  # the stream token expires...
        assert proxy.cut() >= 1  # ...and the EventSource's own reconnect is refused with it
        wait_run_status(page, "success")
        rows = log_rows(page)
        total = httpx.get(f"{srv.url}/runs/{run_id}", headers=authorized).json()["events"]
        expected = [f"{run_id}.{seq}" for seq in range(1, total + 1)]
        assert [row_id for row_id, _ in rows] == expected
        # Every stream was opened with a token (an EventSource cannot send the key), a fresh
        # one after the refusal.
        query = [urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) for url in streams]
        tokens = [q["token"][0] for q in query]
        assert len(tokens) >= 3 and len(set(tokens)) >= 2, streams
        assert PAGE_KEY not in " ".join(streams)

        # The key lasts as long as the tab: a reload asks for nothing.
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.locator("#auth")).to_be_hidden()


def test_a_project_s_graphs_are_offered_and_each_thread_shows_its_own(
    page: Page, spawn: Spawn
) -> None:
    project = spawn(str(TESTS / "data" / "project" / "langgraph.json"))
    open_page(page, project.url)
    expect(page.locator("#graph-pick option")).to_have_text(["greeter", "counter"])
    expect(page.locator("#graph-name")).to_have_text("· greeter")
    page.select_option("#graph-pick", "counter")
    expect(page.locator("#graph-name")).to_have_text("· counter")
    expect(page.locator('#graph [data-node="step"]')).to_have_count(1)
    run_id = start(page)
    wait_run_status(page, "success")
    thread_id = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["thread"][0]
    assert httpx.get(f"{project.url}/runs/{run_id}", timeout=5).json()["status"] == "success"
    state = httpx.get(f"{project.url}/threads/{thread_id}/state", timeout=5).json()
    assert state["values"] == {"count": 1}
    # Opened afresh on that thread, the page shows the thread's graph, not the default one.
    open_page(page, project.url, f"?thread={thread_id}")
    expect(page.locator("#graph-name")).to_have_text("· counter")
    expect(page.locator("#graph-pick")).to_have_value("counter")
