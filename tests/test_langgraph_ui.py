"""Generative UI: a graph that pushes a UI message (tests/ui_graphs.py), its component module
(tests/js/ui/weather.tsx) bundled by the gateway at start-up, LangGraph's POST /ui/{assistant_id}
and the files it points at; and Chromium rendering the component through useStream and
LoadExternalComponent (tests/js/usestream-ui, built when the tests are set up)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from chat_page import chat_page, send
from conftest import JS, ROOT, Server, start_server
from pageproxy import PageServer
from playwright.sync_api import Browser, Page, expect

from app.assistants import system_assistant_id
from app.ui_bundles import Bundle, UiBuildError, build_bundle

PAGE = JS / "usestream-ui" / "dist"
MODULE = "tests/js/ui/weather.tsx"
KEY = "key-ui-0123456789abcdef"
AUTH = {"x-api-key": KEY}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("ui"),
        "ui_graphs:weather",
        checkpointer="memory://",
        auth="api-keys",
        api_keys=f"tester:{KEY}",
        ui=json.dumps({"weather": MODULE}),
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("plain"), "ui_graphs:plain")
    yield srv
    srv.stop()


def component(base: str, assistant: str, name: str = "weather", **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base}/langgraph/ui/{assistant}", json={"name": name}, headers=headers, timeout=10
    )


def expected_snippet(base: str, name: str = "weather") -> str:
    files = f"{base}/langgraph/ui/weather"
    return (
        f'<link rel="stylesheet" href="{files}/entrypoint.css" />\n'
        f'<script src="{files}/entrypoint.js" '
        f"onload='__LGUI_weather.render(&quot;{name}&quot;, \"{{{{shadowRootId}}}}\")'></script>"
    )


def test_the_route_answers_langgraph_s_snippet_by_graph_name_or_assistant_id(
    gateway: Server,
) -> None:
    by_name = component(gateway.url, "weather", **AUTH)
    assert by_name.status_code == 200
    assert by_name.headers["content-type"].startswith("text/html")
    assert by_name.text == expected_snippet(gateway.url)
    by_id = component(gateway.url, system_assistant_id("weather"), **AUTH)
    assert by_id.text == by_name.text
    # The component's name is JSON inside an HTML attribute: it cannot end the tag.
    hostile = component(gateway.url, "weather", name="x'><script>alert(1)</script>", **AUTH)
    assert "<script>alert" not in hostile.text and hostile.text.count("<script") == 1
    assert component(gateway.url, "weather").status_code == 401
    assert (
        httpx.post(
            f"{gateway.url}/langgraph/ui/weather", json={}, headers=AUTH, timeout=10
        ).status_code
        == 422
    )


def test_the_bundle_s_files_are_served_without_credentials_and_share_react(
    gateway: Server,
) -> None:
    base = f"{gateway.url}/langgraph/ui/weather"
    style = httpx.get(f"{base}/entrypoint.css", timeout=10)
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert "rgb(0,128,0)" in style.text.replace(" ", "")
    script = httpx.get(f"{base}/entrypoint.js", timeout=10)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text.startswith("var __LGUI_weather=")
    # React and LangGraph's SDK come from the page (LoadExternalComponent's require), not the
    # bundle: a second React would break the component's hooks.
    assert 'Symbol.for("LGUI_REQUIRE")' in script.text
    assert "react.transitional.element" not in script.text and len(script.content) < 5_000
    again = httpx.get(
        f"{base}/entrypoint.js", headers={"if-none-match": script.headers["etag"]}, timeout=10
    )
    assert again.status_code == 304 and again.content == b""
    assert httpx.get(f"{base}/other.js", timeout=10).status_code == 404
    assert httpx.get(f"{gateway.url}/langgraph/ui/plain/entrypoint.js").status_code == 404


def test_a_graph_without_ui_answers_as_langgraph_s_server_does(plain: Server) -> None:
    for assistant in ("plain", system_assistant_id("plain")):
        answer = component(plain.url, assistant)
        assert (answer.status_code, answer.text) == (404, "UI not found for graph 'plain'")
    unknown = component(plain.url, "nope")
    assert (unknown.status_code, unknown.text) == (404, "UI not found for graph 'nope'")


@pytest.fixture
def site(gateway: Server) -> Iterator[str]:
    if not (PAGE / "index.html").exists():
        pytest.fail("the generative UI page is not built: run `make test` (it runs vite build)")
    with PageServer(PAGE, gateway.url) as page_server:
        yield page_server.url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with chat_page(browser, "") as page:
        yield page


def test_use_stream_renders_the_graph_s_component_from_the_gateway(
    page: Page, site: str, gateway: Server
) -> None:
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(f"{site}/?key={KEY}")
    send(page, "Paris")
    ai = page.locator('#messages li[data-type="ai"]')
    expect(ai.locator(".text")).to_have_text("The weather in Paris:", timeout=30_000)
    # Inside the shadow root LoadExternalComponent made, from the bundle the gateway built.
    card = ai.locator(".weather-card")
    expect(card.locator(".weather-text")).to_have_text("Paris: 21°C", timeout=30_000)
    expect(card).to_have_attribute("data-assistant", "weather")  # the stream's context
    expect(card).to_have_css("border-top-color", "rgb(0, 128, 0)")  # the bundle's styles
    expect(ai.locator(".loading")).to_have_count(0)
    card.locator("button").click()  # state: the page's React runs the component's hooks
    expect(card.locator(".weather-text")).to_have_text("Paris: 70°F", timeout=10_000)
    expect(page.locator("#status")).to_have_text("idle", timeout=30_000)
    # Straight from the gateway's address (the page is of another origin), no key sent.
    assert f"{gateway.url}/langgraph/ui/weather/entrypoint.js" in loaded


def test_a_missing_module_stops_the_start_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path, "ui_graphs:weather", ui=json.dumps({"weather": "ui/gone.tsx"}))
    lines = str(failed.value).splitlines()
    assert "error: GATEWAY_UI 'weather': ui/gone.tsx is not a file" in lines
    assert not any("Traceback" in line for line in lines)


def project(tmp_path: Path, **files: str) -> Path:
    """A UI project of its own, with the test suite's esbuild installed in it."""
    tmp_path.mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "node_modules").symlink_to(JS / "node_modules")
    return tmp_path


def build(graph_id: str, source: Path, cache: Path) -> Bundle:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, build_bundle(graph_id, str(source), cache)).result()


CARD = 'import "./card.css";\nexport default { card: () => <b className="card">hi</b> };\n'


def test_bundler_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "lone.tsx").write_text(CARD)
    with pytest.raises(UiBuildError, match=r"^GATEWAY_UI 'g': esbuild is not installed where"):
        build("g", tmp_path / "lone.tsx", tmp_path / "cache")
    root = project(tmp_path / "p", **{"bad.tsx": "export default { x: () => <b>{</b> };\n"})
    with pytest.raises(UiBuildError) as failed:
        build("g", root / "bad.tsx", tmp_path / "cache")
    assert str(failed.value).startswith(f"GATEWAY_UI 'g': {root / 'bad.tsx'}:1:")
    assert "\n" not in str(failed.value)


def test_a_bundle_is_cached_until_a_file_that_went_into_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", **{"card.tsx": CARD, "card.css": ".card { color: red }\n"})
    cache = tmp_path / "cache"
    first = build("card", root / "card.tsx", cache)
    assert b"red" in first.files["entrypoint.css"]
    # No Node.js needed while nothing changed...
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", "")
    cached = build("card", root / "card.tsx", cache)
    assert cached.files == first.files
    # ...and a changed stylesheet (an input, not the module declared) is bundled again.
    (root / "card.css").write_text(".card { color: teal }\n")
    with pytest.raises(UiBuildError, match=r"needs Node\.js"):
        build("card", root / "card.tsx", cache)
    monkeypatch.setenv("PATH", path)
    rebuilt = build("card", root / "card.tsx", cache)
    assert b"teal" in rebuilt.files["entrypoint.css"]


def test_build_ui_bundles_ahead_of_the_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_UI"] = json.dumps({"weather": str(ROOT / MODULE)})
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "app", "build-ui"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "weather: entrypoint.css, entrypoint.js\n")
    (cached,) = (tmp_path / ".ui-bundles").iterdir()
    assert "__LGUI_weather" in json.loads(cached.read_text())["files"]["entrypoint.js"]
