"""LangGraph's JS client from Node, and `useStream` in a real browser, against the gateway's
/langgraph on both stores. The JS packages and the React page are installed and built when
the tests are set up (`make test`); nothing is fetched while they run."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from chat_page import chat_page, send, thread_of
from conftest import TESTS, Server
from pageproxy import PageServer
from playwright.sync_api import Browser, Page, expect
from proxy import CuttableProxy

JS = TESTS / "js"
PAGE = JS / "usestream" / "dist"
# Records the last message's text each time it changes, to tell streaming from a final swap.
RECORDER = """
window.__texts = [];
new MutationObserver(() => {
  const items = document.querySelectorAll('#messages li[data-type="ai"]');
  const text = items.length ? items[items.length - 1].textContent : "";
  if (window.__texts[window.__texts.length - 1] !== text) window.__texts.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed (the JS client tests need Node.js 20)")
    if not (JS / "node_modules" / "@langchain" / "langgraph-sdk").exists():
        pytest.fail("the JS packages are not installed: run `make test` (it runs npm ci)")
    return path


def run_node(script: str, api_url: str, timeout: float = 90) -> dict[str, Any]:
    done = subprocess.run(
        [node(), script, api_url], cwd=JS, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def replay_ids(base: str, thread_id: str, run_id: str) -> list[str]:
    url = f"{base}/langgraph/threads/{thread_id}/runs/{run_id}/stream"
    with httpx.Client(timeout=30) as client:
        body = client.get(url, headers={"Last-Event-ID": "-1"}).text
    return [line[4:] for line in body.splitlines() if line.startswith("id: ")]


def test_the_js_client_s_core_flow(server: Server) -> None:
    seen = run_node("sdk_flow.mjs", f"{server.url}/langgraph")
    assert seen["assistants"] == ["demo"]
    assert seen["pausedEvents"][0] == "metadata" and seen["pausedEvents"][-2:] == [
        "updates",
        "values",
    ]
    assert len(set(seen["pausedIds"])) == len(seen["pausedIds"])
    (interrupt,) = seen["interrupt"]
    assert interrupt["value"]["tool"] == "lookup"
    assert seen["stateNext"] == ["lookup"] and seen["threadStatus"] == "interrupted"
    assert "messages" in seen["resumedEvents"]
    assert seen["tokens"] == seen["answer"] and seen["answer"].startswith("On ")
    # Joined from the start, left mid-run, rejoined after the last id seen: the whole run.
    assert seen["joined"] == seen["replayed"] and seen["replayed"][0].endswith(".0")
    assert seen["waited"]["answer"].startswith("On waited (your message 3):")
    assert seen["history"][0] == []
    assert seen["afterDelete"] == 404


def read_lines(process: subprocess.Popen[str], into: queue.Queue[dict[str, Any]]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(json.loads(line))


def test_the_js_client_reconnects_by_itself_with_nothing_twice_or_missing(
    server: Server,
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with CuttableProxy(port) as proxy:
        process = subprocess.Popen(
            [node(), "sdk_reconnect.mjs", f"http://127.0.0.1:{proxy.port}/langgraph"],
            cwd=JS,
            stdout=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=read_lines, args=(process, lines), daemon=True).start()
        try:
            seen: list[dict[str, Any]] = []
            cuts = 0
            deadline = time.monotonic() + 90
            while not (seen and seen[-1].get("done")):
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
                if len(seen) in (15, 60) and proxy.cut():
                    cuts += 1
        finally:
            process.kill()
            process.wait(5)
            assert process.stdout is not None
            process.stdout.close()
    created = seen[0]
    events = [line for line in seen if "event" in line]
    assert cuts == 2
    ids = [line["id"] for line in events]
    assert ids == replay_ids(server.url, created["thread"], created["run"])
    assert len(set(ids)) == len(ids)


@pytest.fixture
def page_server(server: Server) -> Iterator[PageServer]:
    if not (PAGE / "index.html").exists():
        pytest.fail("the useStream page is not built: run `make test` (it runs vite build)")
    with PageServer(PAGE, server.url) as page_server:
        yield page_server


@pytest.fixture
def chat(browser: Browser) -> Iterator[Page]:
    with chat_page(browser, RECORDER) as page:
        yield page


def answer(base: str, thread_id: str) -> str:
    values = httpx.get(f"{base}/langgraph/threads/{thread_id}", timeout=10).json()["values"]
    return values["messages"][-1]["content"]


def runs_of(base: str, thread_id: str) -> list[dict[str, Any]]:
    return httpx.get(f"{base}/langgraph/threads/{thread_id}/runs", timeout=10).json()


def test_use_stream_shows_the_answer_token_by_token(
    chat: Page, page_server: PageServer, server: Server
) -> None:
    chat.goto(f"{page_server.url}/?tokens=30&token_delay=0.03")
    send(chat, "streams")
    expect(chat.locator("#messages li")).to_have_count(2, timeout=20_000)
    expect(chat.locator("#status")).to_have_text("idle", timeout=20_000)
    thread_id = thread_of(chat)
    final = answer(server.url, thread_id)
    assert final.startswith("On streams:")
    expect(chat.locator('#messages li[data-type="ai"]')).to_have_text(final)
    texts: list[str] = chat.evaluate("window.__texts")
    growing = [t for t in texts if t]
    assert len(growing) >= 10, texts  # it grew token by token
    assert all(final.startswith(t) for t in growing)


def test_use_stream_shows_an_interrupt_and_answers_it(
    chat: Page, page_server: PageServer, server: Server
) -> None:
    chat.goto(f"{page_server.url}/?approve=1&tokens=10&token_delay=0.02")
    send(chat, "approvals")
    expect(chat.locator("#question")).to_have_text(
        "Look 'approvals' up with the lookup tool?", timeout=20_000
    )
    chat.click("#approve")
    expect(chat.locator("#interrupt")).to_have_count(0, timeout=20_000)
    expect(chat.locator("#status")).to_have_text("idle", timeout=20_000)
    thread_id = thread_of(chat)
    final = answer(server.url, thread_id)
    expect(chat.locator('#messages li[data-type="ai"]')).to_have_text(final)
    facts = httpx.get(f"{server.url}/langgraph/threads/{thread_id}/state").json()["values"]
    assert facts["facts"].startswith("approvals: text/event-stream")
    assert [r["status"] for r in runs_of(server.url, thread_id)] == ["success", "success"]


def test_a_reload_mid_run_continues_the_same_run_without_doubled_text(
    chat: Page, page_server: PageServer, server: Server
) -> None:
    chat.goto(f"{page_server.url}/?tokens=80&token_delay=0.04")
    send(chat, "reloads")
    chat.wait_for_function("(window.__texts.at(-1) || '').split(' ').length > 10", timeout=20_000)
    thread_id = thread_of(chat)
    (run,) = runs_of(server.url, thread_id)
    assert run["status"] == "running"
    chat.reload()
    expect(chat.locator("#status")).to_have_text("streaming", timeout=20_000)
    expect(chat.locator("#status")).to_have_text("idle", timeout=30_000)
    final = answer(server.url, thread_id)
    expect(chat.locator('#messages li[data-type="ai"]')).to_have_text(final)
    assert chat.locator("#messages li").count() == 2
    (same,) = runs_of(server.url, thread_id)  # rejoined, not run again
    assert same["run_id"] == run["run_id"] and same["status"] == "success"
