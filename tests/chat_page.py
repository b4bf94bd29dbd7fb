"""Driving the useStream test pages in Chromium: what their tests share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from playwright.sync_api import Browser, Page


@contextlib.contextmanager
def chat_page(browser: Browser, recorder: str) -> Iterator[Page]:
    """A page with `recorder` run before the page's own scripts; no script error may happen
    on it while it is open."""
    context = browser.new_context()
    context.add_init_script(recorder)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def send(page: Page, text: str) -> None:
    page.fill("#draft", text)
    page.click("#send")


def thread_of(page: Page) -> str:
    """The thread the page is on, once it has one (the pages keep it in their URL)."""
    page.wait_for_function("new URLSearchParams(location.search).get('thread')", timeout=20_000)
    return page.evaluate("new URLSearchParams(location.search).get('thread')")
