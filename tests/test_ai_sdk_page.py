"""`useChat` (`@ai-sdk/react`, DefaultChatTransport) in a Vite-built page in Chromium against
/ai-sdk/chat serving the demo graph: streaming, tools, data parts, an approval, a second turn,
a reload mid-answer with `resume: true`, and an error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from chat_page import chat_page, send
from conftest import TESTS, Server, start_server
from pageproxy import PageServer
from playwright.sync_api import Browser, Page, expect

PAGE = TESTS / "js" / "usechat" / "dist"
ANSWER = '#messages li[data-role="assistant"] p.text'
# Each assistant message's text, as the page shows it, every time it changes (keyed by message
# id): to tell text that grows token by token from text that appears whole.
RECORDER = """
window.__texts = {};
new MutationObserver(() => {
  for (const item of document.querySelectorAll('#messages li[data-role="assistant"]')) {
    const text = [...item.querySelectorAll('p.text')].map(p => p.textContent).join('');
    const seen = (window.__texts[item.dataset.id] ??= []);
    if (seen[seen.length - 1] !== text) seen.push(text);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("ai-sdk-page"), checkpointer="memory://")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def site(gateway: Server) -> Iterator[str]:
    if not (PAGE / "index.html").exists():
        pytest.fail("the useChat page is not built: run `make test` (it runs vite build)")
    with PageServer(PAGE, gateway.url, prefix="/ai-sdk") as page_server:
        yield page_server.url


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    with chat_page(browser, RECORDER) as page:
        yield page


def open_chat(page: Page, site: str, **options: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    page.goto(f"{site}/?{query}")
    page.wait_for_function("new URLSearchParams(location.search).get('chat')")
    expect(page.locator("#status")).to_have_text("ready")
    return page.evaluate("new URLSearchParams(location.search).get('chat')")


def wait_ready(page: Page) -> None:
    expect(page.locator("#status")).to_have_text("ready", timeout=30_000)


def answers(page: Page) -> list[str]:
    return page.locator('#messages li[data-role="assistant"]').evaluate_all(
        "items => items.map(i => [...i.querySelectorAll('p.text')].map(p => p.textContent)"
        ".join(''))"
    )


def posts(page: Page) -> list[str]:
    return [r for r in page.evaluate("window.__requests") if r.startswith("POST")]


def thread_values(gateway: Server, chat_id: str) -> dict[str, Any]:
    return httpx.get(f"{gateway.url}/threads/{chat_id}/state", timeout=10).json()["values"]


def ai_texts(gateway: Server, chat_id: str) -> list[str]:
    messages = thread_values(gateway, chat_id)["messages"]
    return [m["content"] for m in messages if m["type"] == "ai"]


def test_a_message_streams_into_one_answer_with_its_tool_and_data(
    page: Page, site: str, gateway: Server
) -> None:
    chat_id = open_chat(page, site, tokens=30, token_delay=0.03)
    send(page, "hello")
    expect(page.locator(ANSWER)).to_have_attribute("data-state", "done", timeout=30_000)
    wait_ready(page)
    # One assistant message, grown token by token, holding what the thread holds.
    assert answers(page) == ai_texts(gateway, chat_id)
    (texts,) = page.evaluate("Object.values(window.__texts)")
    assert len(texts) >= 10, texts
    # The demo's lookup tool, with its input and its output.
    tool = page.locator('.tool[data-tool="lookup"]')
    expect(tool).to_have_attribute("data-state", "output-available")
    expect(tool.locator(".input")).to_have_text('{"topic":"hello"}')
    expect(tool.locator(".output")).to_contain_text("hello: text/event-stream")
    # Custom events as data parts, updated in place; node progress one part per node.
    expect(page.locator('.data[data-type="data-progress"]')).to_have_text(
        '{"step":"planning","percent":100}'
    )
    expect(page.locator('.data[data-type="data-node"]')).to_have_count(6)
    assert posts(page) == ["POST /ai-sdk/chat"]


def test_an_approval_from_the_page_continues_the_answer_with_one_request(
    page: Page, site: str, gateway: Server
) -> None:
    chat_id = open_chat(page, site, approve=1)
    send(page, "look it up")
    approve = page.locator(".approval .approve")
    expect(approve).to_have_text("Approve lookup", timeout=30_000)
    wait_ready(page)
    expect(page.locator('.tool[data-tool="lookup"]')).to_have_attribute(
        "data-state", "approval-requested"
    )
    approve.click()
    expect(page.locator(ANSWER)).to_have_attribute("data-state", "done", timeout=30_000)
    wait_ready(page)
    # The same assistant message went on: the approved call resolved, then the answer.
    expect(page.locator('#messages li[data-role="assistant"]')).to_have_count(1)
    states = page.locator(".tool").evaluate_all("tools => tools.map(t => t.dataset.state)")
    assert states == ["output-available", "output-available"]  # the approval, then the lookup
    assert answers(page) == ai_texts(gateway, chat_id)
    assert posts(page) == ["POST /ai-sdk/chat"] * 2
    expect(page.locator(".approval")).to_have_count(0)


def test_a_second_message_continues_the_thread(page: Page, site: str, gateway: Server) -> None:
    chat_id = open_chat(page, site)
    send(page, "first")
    wait_ready(page)
    expect(page.locator(ANSWER)).to_have_count(1)
    send(page, "second")
    expect(page.locator(ANSWER)).to_have_count(2, timeout=30_000)
    wait_ready(page)
    shown = answers(page)
    assert shown == ai_texts(gateway, chat_id)
    assert shown[1].startswith("On second (your message 2):")
    humans = [
        m["content"] for m in thread_values(gateway, chat_id)["messages"] if m["type"] == "human"
    ]
    assert humans == ["first", "second"]


def test_a_reload_mid_answer_resumes_it_whole(page: Page, site: str, gateway: Server) -> None:
    chat_id = open_chat(page, site, tokens=80, token_delay=0.05)
    send(page, "hello")
    page.wait_for_function(
        "Object.values(window.__texts).some(texts => texts.length >= 5)", timeout=30_000
    )
    page.reload()
    # useChat asks for the answer being written, and the gateway replays it whole, then live.
    expect(page.locator(ANSWER)).to_have_attribute("data-state", "done", timeout=30_000)
    wait_ready(page)
    assert answers(page) == ai_texts(gateway, chat_id)  # nothing doubled, nothing missing
    expect(page.locator('#messages li[data-role="user"]')).to_have_count(1)
    (texts,) = page.evaluate("Object.values(window.__texts)")
    assert len(texts) >= 3, texts  # after the reload, it still grew live
    assert page.evaluate("window.__requests") == [f"GET /ai-sdk/chat/{chat_id}/stream"]


def test_an_error_shows_and_the_chat_still_works(page: Page, site: str, gateway: Server) -> None:
    chat_id = open_chat(page, site, fail="merge")
    send(page, "break")
    expect(page.locator("#error")).to_have_text(
        "DemoFailure: node 'merge' failed on purpose (input fail='merge')", timeout=30_000
    )
    page.evaluate(f"history.replaceState(null, '', '?chat={chat_id}')")  # fail no more
    send(page, "and now")
    expect(page.locator("#error")).to_have_count(0, timeout=30_000)
    wait_ready(page)
    assert answers(page)[-1] == ai_texts(gateway, chat_id)[-1]
