"""LangGraph's thread-centric event streaming (the "v2" protocol: commands to a thread, and one
event stream per thread over SSE or a WebSocket) from LangGraph's JS client in Node and from
@langchain/react's `useStream` in a real browser, against the gateway's /langgraph serving
`tests/v2_graphs.py:agent`. The same tests also run against LangGraph's own server
(`langgraph dev`) serving the same graph, to compare: where it differs, the test says so.

The JS packages and the page are installed and built when the tests are set up (`make test`);
nothing is fetched while they run."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from chat_page import chat_page, send, thread_of
from conftest import TESTS, start_server
from pageproxy import PageServer
from playwright.sync_api import Browser, Page, expect
from proxy import CuttableProxy
from test_langgraph_side_by_side import langgraph_dev

JS = TESTS / "js"
SCRIPT = "threads_stream.mjs"
PAGE = JS / "usestream-v2" / "dist"
GRAPH = f"{TESTS / 'v2_graphs.py'}:agent"
TRANSPORTS = ["sse", "websocket"]
GATEWAY = "gateway"
LANGGRAPH_DEV = "langgraph dev"
# Each AI message's text, as the page shows it, every time it changes (keyed by message id): to
# tell text that grows token by token from text that appears whole.
RECORDER = """
window.__texts = {};
new MutationObserver(() => {
  for (const item of document.querySelectorAll('#messages li[data-type="ai"]')) {
    const seen = (window.__texts[item.dataset.id] ??= []);
    if (seen[seen.length - 1] !== item.textContent) seen.push(item.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
# A message has grown by ten tokens on the page: it is streaming.
GROWING = "Object.values(window.__texts).some(texts => texts.length >= 10)"


@dataclass
class Target:
    """A LangGraph API serving the agent graph: its base URL and the assistant to run."""

    name: str
    api: str
    assistant_id: str

    def get(self, path: str) -> Any:
        answer = httpx.get(f"{self.api}{path}", timeout=10)
        answer.raise_for_status()
        return answer.json()

    def state(self, thread_id: str) -> dict[str, Any]:
        return self.get(f"/threads/{thread_id}/state")

    def runs(self, thread_id: str) -> list[dict[str, Any]]:
        return self.get(f"/threads/{thread_id}/runs")


def assistant_of(api: str) -> str:
    found = httpx.post(f"{api}/assistants/search", json={"limit": 10}, timeout=10).json()
    (assistant,) = [a for a in found if a["graph_id"] == "agent"] or found
    return assistant["assistant_id"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    srv = start_server(
        tmp_path_factory.mktemp("v2-gateway"),
        "v2_graphs:agent",
        heartbeat_seconds=1,
        checkpointer="memory://",
    )
    try:
        api = f"{srv.url}/langgraph"
        yield Target(GATEWAY, api, assistant_of(api))
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with langgraph_dev(tmp_path_factory.mktemp("v2-langgraph-dev"), {"agent": GRAPH}) as url:
        yield Target(LANGGRAPH_DEV, url, assistant_of(url))


@pytest.fixture(params=[GATEWAY, LANGGRAPH_DEV])
def target(request: pytest.FixtureRequest) -> Target:
    name = "gateway" if request.param == GATEWAY else "langgraph_server"
    return request.getfixturevalue(name)


def node() -> list[str]:
    """Node, with the global WebSocket the client's WebSocket transport needs (Node 22 has it;
    Node 20 behind a flag)."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed (the JS client tests need Node.js 20)")
    if not (JS / "node_modules" / "@langchain" / "react").exists():
        pytest.fail("the JS packages are not installed: run `make test` (it runs npm ci)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    return [path, "--experimental-websocket"] if major < 22 else [path]


def script(target: Target, transport: str, *options: str, api: str | None = None) -> list[str]:
    return [
        *node(),
        SCRIPT,
        api or target.api,
        transport,
        "--assistant",
        target.assistant_id,
        *options,
    ]


def failure(stderr: str) -> str:
    """Why the script failed: its `failed` line, and the end of what it had seen."""
    lines = stderr.strip().splitlines()
    reasons = [line for line in lines if line.startswith('{"failed"')]
    return "\n".join([*reasons, (lines or [""])[-1][-3000:]])


def run_script(target: Target, transport: str, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        script(target, transport, *options), cwd=JS, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, failure(done.stderr)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout[-4000:]
    return json.loads(lines[0])


def name_of(namespace: list[str]) -> str:
    """A namespace without the ids the server gives each task: ["review:<id>"] -> "review"."""
    return "/".join(segment.split(":", 1)[0] for segment in namespace)


def streamed(seen: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each streamed message as (phase, namespace name, text assembled from its deltas)."""
    return [(m["phase"], name_of(m["namespace"]), seen["texts"][m["id"]]) for m in seen["messages"]]


def check_events_are_each_once(seen: dict[str, Any]) -> None:
    ids = [event["event_id"] for event in seen["events"]]
    assert all(ids) and len(set(ids)) == len(ids), "an event came twice"
    seqs = [event["seq"] for event in seen["events"]]
    assert len(set(seqs)) == len(seqs), "two events share a seq"
    if seen["transport"] == "sse":
        # One stream at a time, each replaying from the thread's first event: in seq order.
        # (Over a WebSocket the client re-subscribes its subscriptions one by one after a
        # reconnect and gives each every event that matches it, so order can vary there.)
        assert seqs == sorted(seqs)


def check_a_conversation(seen: dict[str, Any], tokens: int = 12) -> None:
    """What any server must show for the script's conversation: an interrupted run, its resume
    on the same stream, and a second run, each message's text whole and each event once."""
    assert seen["errors"] == []
    first, _, again = seen["runs"]
    assert first["result"]["run_id"] != again["result"]["run_id"]
    check_events_are_each_once(seen)

    # The root's lifecycle across the three: interrupted, resumed to the end, run again.
    assert seen["lifecycle"][""] == [
        "running",
        "interrupted",
        "running",
        "completed",
        "running",
        "completed",
    ]
    # The subgraph `review`, once in each run that went through it, started and completed.
    subgraphs = [ns for ns in seen["namespaces"] if name_of(ns) == "review"]
    assert len(subgraphs) == 2 and subgraphs[0] != subgraphs[1]
    for namespace in subgraphs:
        assert seen["lifecycle"]["|".join(namespace)] == ["started", "completed"]

    # One interrupt, asked at the root by the first run, the same the client recorded.
    (asked,) = seen["interrupts"]
    assert asked["phase"] == "start" and asked["namespace"] == []
    assert asked["payload"]["question"] == "Send the answer?"
    assert seen["sdkInterrupts"] == [{"interruptId": asked["interrupt_id"], "namespace": []}]
    assert seen["countsByPhase"]["resume"].get("input.requested") is None

    # Every streamed message: token by token, and its deltas add up to its final text.
    for message in seen["messages"]:
        assert message["role"] == "ai"
        assert seen["deltas"][message["id"]] == tokens, message
        assert seen["texts"][message["id"]] == seen["finished"][message["id"]], message
    # Which message streamed where: the subgraph's draft, then the answer once resumed.
    texts = streamed(seen)
    for prefix, where in [
        ("On draft hi:", [("start", "review")]),
        ("On answer hi:", [("resume", "")]),
        ("On draft again:", [("again", "review")]),
        ("On answer again:", [("again", "")]),
    ]:
        assert [(p, ns) for p, ns, t in texts if t.startswith(prefix)] == where, prefix
    # The interrupt carried the draft the subgraph streamed.
    assert texts_of(seen, "On draft hi:") in str(asked["payload"]["draft"])

    # The thread's state at the end: the streamed answers are the messages it keeps.
    kept = seen["state"]["messages"]
    assert [m["type"] for m in kept] == ["human", "ai", "tool", "ai"] * 2
    assert [kept[0]["text"], kept[4]["text"]] == ["hi", "again"]
    assert kept[1]["tool_calls"] == ["search"] and kept[2]["text"] == "found: hi"
    by_id = {m["id"]: m["text"] for m in kept}
    answers = [m for m in seen["messages"] if seen["texts"][m["id"]].startswith("On answer")]
    assert [by_id.get(m["id"]) for m in answers] == [kept[3]["text"], kept[7]["text"]]
    assert [seen["texts"][m["id"]] for m in answers] == [kept[3]["text"], kept[7]["text"]]
    assert seen["state"]["next"] == []
    assert seen["values"][""] >= 6


def texts_of(seen: dict[str, Any], prefix: str) -> str:
    (text,) = [t for _, _, t in streamed(seen) if t.startswith(prefix)]
    return text


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_thread_s_runs_interrupt_and_resume_through_one_stream(
    target: Target, transport: str
) -> None:
    seen = run_script(target, transport)
    assert seen["transport"] == transport
    check_a_conversation(seen)
    kept = seen["state"]["messages"]
    if target.name == GATEWAY:
        # The model `think` streams with .astream() is streamed token by token at the root,
        # before the subgraph's draft; it is the message the thread keeps.
        think = [m for m in seen["messages"] if m["namespace"] == [] and m["phase"] == "start"]
        assert [seen["texts"][m["id"]] for m in think] == [kept[1]["text"]]
        assert [m["id"] for m in think] == [kept[1]["id"]]
        assert [(p, ns) for p, ns, _ in streamed(seen)] == [
            ("start", ""),
            ("start", "review"),
            ("resume", ""),
            ("again", ""),
            ("again", "review"),
            ("again", ""),
        ]
        # The ToolNode's call, started and finished, in each run that made it, by the id of
        # the model's call it answers (the AI message's tool call, the ToolMessage's
        # tool_call_id), as LangGraph's own `tools` stream mode names it.
        calls = [(t["phase"], t["event"], t["tool_call_id"]) for t in seen["tools"]]
        assert calls == [
            ("start", "tool-started", "call-search-1"),
            ("start", "tool-finished", "call-search-1"),
            ("again", "tool-started", "call-search-1"),
            ("again", "tool-finished", "call-search-1"),
        ]
        started, finished = seen["tools"][:2]
        assert started["tool_name"] == "search" and started["input"] == {"query": "hi"}
        assert "found: hi" in json.dumps(finished["output"])
        # What `think` wrote with the stream writer, at the root, in each run.
        custom = [(c["phase"], c["namespace"], c["data"]) for c in seen["custom"]]
        assert [(p, ns) for p, ns, _ in custom] == [("start", [])] * 2 + [("again", [])] * 2
        assert "thinking" in json.dumps(custom[0][2]) and "calling search" in json.dumps(
            custom[1][2]
        )
        # Each node's update, once per run that ran it (the subgraph's own node inside it).
        root_updates = [(u["phase"], u["node"]) for u in seen["updates"] if u["namespace"] == []]
        assert root_updates == [
            ("start", "think"),
            ("start", "tools"),
            ("start", "review"),
            ("resume", "approve"),
            ("resume", "answer"),
            ("again", "think"),
            ("again", "tools"),
            ("again", "review"),
            ("again", "approve"),
            ("again", "answer"),
        ]
    else:
        # LangGraph's server (langgraph-api 0.16.7 with the LangGraph installed here) streams
        # the tokens of the models called with .ainvoke() (the subgraph's draft, the answer)
        # but not those of `think`'s .astream(), and sends no `tools`, `custom` or `updates`
        # events for this graph although the run asks for them.
        assert [(p, ns) for p, ns, _ in streamed(seen)] == [
            ("start", "review"),
            ("resume", ""),
            ("again", "review"),
            ("again", ""),
        ]
        assert seen["tools"] == seen["custom"] == seen["updates"] == []


# --- longer runs: tokens as they come, and a connection cut mid-run --------------------------

LONG_TOKENS, LONG_DELAY = 60, 0.03
LONG = json.dumps({"tokens": LONG_TOKENS, "token_delay": LONG_DELAY})


@pytest.fixture(scope="module")
def long_runs() -> dict[tuple[str, str], dict[str, Any]]:
    """The script's conversation with 60 tokens a message, once per server and transport."""
    return {}


def long_run(
    runs: dict[tuple[str, str], dict[str, Any]], target: Target, transport: str
) -> dict[str, Any]:
    if (target.name, transport) not in runs:
        runs[target.name, transport] = run_script(target, transport, "--input", LONG)
    return runs[target.name, transport]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_run_s_tokens_reach_an_open_stream_as_they_are_made(
    target: Target, transport: str, long_runs: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Each message's 60 tokens are made over 1.8 s: on a stream that is open all along, they
    arrive over about as long, not at once, in the resumed run as in the others."""
    seen = long_run(long_runs, target, transport)
    check_a_conversation(seen, tokens=LONG_TOKENS)
    spans = {
        (m["phase"], name_of(m["namespace"]), seen["texts"][m["id"]][:16]): (
            seen["arrivals"][m["id"]][1] - seen["arrivals"][m["id"]][0]
        )
        for m in seen["messages"]
    }
    made_over = LONG_TOKENS * LONG_DELAY * 1000
    assert {key: span for key, span in spans.items() if span < made_over / 2} == {}, spans


def read_lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def run_with_cuts(target: Target, transport: str, proxy: CuttableProxy) -> tuple[Any, int]:
    """The script through `proxy`, every connection cut at the 20th token the first run
    streams live and at the 20th of the second run (never while a command is on its way): the
    stream reconnected in the first run is the one the resumed run, and then the second, use.
    Live: newer than any event before it, and come at least 10 ms after the token before it
    (a replay, or a backlog, comes all at once)."""
    api = f"http://127.0.0.1:{proxy.port}{httpx.URL(target.api).path.rstrip('/')}"
    process = subprocess.Popen(
        script(target, transport, "--input", LONG, "--progress", api=api),
        cwd=JS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    progress: queue.Queue[str] = queue.Queue()
    output: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None and process.stdout is not None
    readers = [
        threading.Thread(target=read_lines, args=(process.stderr, progress), daemon=True),
        threading.Thread(target=read_lines, args=(process.stdout, output), daemon=True),
    ]
    for reader in readers:
        reader.start()
    cuts = 0
    tail: list[str] = []
    try:
        live = {"start": 0, "again": 0}
        highest, last_token = -1, -1000
        pending: set[str] = set()
        deadline = time.monotonic() + 90
        while process.poll() is None or not progress.empty():
            assert time.monotonic() < deadline, "the script did not finish in time"
            try:
                line = progress.get(timeout=0.2)
            except queue.Empty:
                continue
            tail = [*tail[-20:], line]
            event = json.loads(line) if line.startswith("{") else {}
            if "command" in event:
                (pending.add if event["state"] == "sent" else pending.discard)(event["command"])
            if "seq" not in event or event["seq"] <= highest:
                continue  # a replayed event, after a reconnect
            highest = event["seq"]
            if event.get("event") == "content-block-delta" and event["phase"] in live:
                gap, last_token = event["t"] - last_token, event["t"]
                if gap < 10:
                    continue
                live[event["phase"]] += 1
                if live[event["phase"]] >= 20 and not pending:
                    del live[event["phase"]]
                    cuts += 1 if proxy.cut() else 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        for reader in readers:
            reader.join(10)
        process.stdout.close()
        process.stderr.close()
    tail += list(progress.queue)
    assert process.returncode == 0, failure("".join(tail))
    (out,) = output.queue
    return json.loads(out), cuts


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_cut_connection_is_reconnected_with_the_same_messages_as_an_uncut_run(
    target: Target, transport: str, long_runs: dict[tuple[str, str], dict[str, Any]]
) -> None:
    uncut = long_run(long_runs, target, transport)
    port = httpx.URL(target.api).port
    assert port is not None
    with CuttableProxy(port) as proxy:
        seen, cuts = run_with_cuts(target, transport, proxy)
    assert cuts == 2, "a run streamed no 20 tokens live to cut the connections at"
    if target.name == LANGGRAPH_DEV:
        # LangGraph's server keeps its cursor per connection: after a reconnect it may send a
        # message's deltas again under new event ids (seen over its WebSocket: every delta
        # twice), so only the outcome is compared there, not the stream.
        assert seen["errors"] == []
        assert seen["lifecycle"][""] == uncut["lifecycle"][""]
        assert [m["text"] for m in seen["state"]["messages"]] == [
            m["text"] for m in uncut["state"]["messages"]
        ]
        return
    check_a_conversation(seen, tokens=LONG_TOKENS)
    assert streamed(seen) == streamed(uncut)
    assert seen["lifecycle"][""] == uncut["lifecycle"][""]
    assert seen["countsByPhase"] == uncut["countsByPhase"]
    assert [m["text"] for m in seen["state"]["messages"]] == [
        m["text"] for m in uncut["state"]["messages"]
    ]


# --- @langchain/react's useStream in a browser -----------------------------------------------


@pytest.fixture
def page_api(target: Target) -> Iterator[str]:
    """Where the page points its client: the gateway through the page's own origin (as a
    front end's dev server proxies /langgraph); LangGraph's server directly (it allows any
    origin). The page itself is served beside it."""
    if not (PAGE / "index.html").exists():
        pytest.fail("the useStream v2 page is not built: run `make test` (it runs vite build)")
    upstream = target.api.removesuffix("/langgraph")
    with PageServer(PAGE, upstream) as page_server:
        api = f"{page_server.url}/langgraph" if target.name == GATEWAY else target.api
        yield f"{page_server.url}/?api={api}&assistant={target.assistant_id}"


@pytest.fixture
def chat(browser: Browser, page_api: str) -> Iterator[Page]:
    """A browser page with the recorder, closed before the page's server stops."""
    with chat_page(browser, RECORDER) as page:
        yield page


def shown(page: Page) -> list[tuple[str, str, str]]:
    """The messages the page lists: (type, message id, text)."""
    return page.eval_on_selector_all(
        "#messages li", "items => items.map(i => [i.dataset.type, i.dataset.id, i.textContent])"
    )


def kept(target: Target, thread_id: str) -> list[tuple[str, str, str]]:
    """The thread's messages as its state keeps them: (type, id, text)."""
    messages = target.state(thread_id)["values"]["messages"]

    def text(content: Any) -> str:
        if isinstance(content, str):
            return content
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))

    return [(m["type"], m["id"], text(m["content"])) for m in messages]


def check_shows_the_thread(page: Page, target: Target, thread_id: str, question: str) -> None:
    """The page lists each message the thread keeps once, in order, with its whole text; the
    only other item is the draft streamed inside the `review` subgraph (useStream lists what a
    subgraph one level down streams among the root's messages; the subgraph writes it to the
    state's `draft`, not to its messages, so it stays where it first appeared)."""
    expected = kept(target, thread_id)
    items = [tuple(item) for item in shown(page)]
    extra = [item for item in items if item not in expected]
    assert [item for item in items if item not in extra] == expected
    assert len({item[1] for item in items}) == len(items)
    ((kind, _, text),) = extra
    draft = target.state(thread_id)["values"]["draft"]
    # (The subgraph keeps `str(reply.content)`: the text itself, or a list of content blocks
    # holding it, as LangGraph's server gives the model's reply.)
    assert kind == "ai" and text.startswith(f"On draft {question}:")
    assert text == draft or repr(text) in draft


def growing(page: Page) -> str:
    """The id of the message the page shows streaming (grown by ten tokens)."""
    page.wait_for_function(GROWING, timeout=30_000)
    texts: dict[str, list[str]] = page.evaluate("window.__texts")
    (message_id,) = [m_id for m_id, steps in texts.items() if len(steps) >= 10]
    return message_id


def growth(page: Page, message_id: str) -> list[str]:
    return [t for t in page.evaluate("window.__texts")[message_id] if t]


def test_use_stream_shows_the_messages_token_by_token(
    chat: Page, page_api: str, target: Target
) -> None:
    chat.goto(f"{page_api}&tokens=30&token_delay=0.03")
    send(chat, "streams")
    expect(chat.locator("#status")).to_have_text("streaming", timeout=20_000)
    thread_id = thread_of(chat)
    expect(chat.locator("#status")).to_have_text("idle", timeout=30_000)
    expect(chat.locator("#messages li")).to_have_count(5, timeout=10_000)
    check_shows_the_thread(chat, target, thread_id, "streams")
    messages = kept(target, thread_id)
    answer = messages[-1]
    assert answer[2].startswith("On answer streams:")
    # The answer grew token by token, each step a beginning of the final text.
    steps = growth(chat, answer[1])
    assert len(steps) >= 10, steps
    assert all(answer[2].startswith(step) for step in steps) and steps[-1] == answer[2]
    think = messages[1]
    tools = chat.eval_on_selector_all(
        "#tools li", "items => items.map(i => [i.dataset.name, i.dataset.status, i.dataset.callId])"
    )
    if target.name == GATEWAY:
        assert len(growth(chat, think[1])) >= 10
        # The search `think` asked for, as the `tools` channel told it, started to finished,
        # by the model's call id.
        assert tools == [["search", "finished", "call-search-1"]]
    else:
        # LangGraph's server does not stream `think`'s .astream() tokens: it appears whole;
        # and it sends no `tools` events for this graph: useStream lists no tool calls.
        assert growth(chat, think[1]) == [think[2]]
        assert tools == []


def test_use_stream_shows_the_interrupt_and_answers_it(
    chat: Page, page_api: str, target: Target
) -> None:
    chat.goto(f"{page_api}&approve=1&tokens=30&token_delay=0.05")
    send(chat, "approvals")
    expect(chat.locator("#question")).to_have_text("Send the answer?", timeout=30_000)
    expect(chat.locator("#status")).to_have_text("idle")
    thread_id = thread_of(chat)
    (pending,) = [t for t in target.state(thread_id)["tasks"] if t["interrupts"]]
    assert chat.get_attribute("#interrupt", "data-id") == pending["interrupts"][0]["id"]
    assert [kind for kind, _, _ in shown(chat)] == ["human", "ai", "tool", "ai"]
    chat.click("#approve")
    expect(chat.locator("#interrupt")).to_have_count(0, timeout=20_000)
    expect(chat.locator("#messages li")).to_have_count(5, timeout=30_000)
    expect(chat.locator("#status")).to_have_text("idle", timeout=30_000)
    check_shows_the_thread(chat, target, thread_id, "approvals")
    _, answer_id, answer = kept(target, thread_id)[-1]
    assert answer.startswith("On answer approvals:")
    # The resumed run's answer grew token by token, as the first run's messages did.
    steps = growth(chat, answer_id)
    assert len(steps) >= 10, steps
    assert target.state(thread_id)["next"] == []
    assert [r["status"] for r in target.runs(thread_id)] == ["success", "success"]


def test_a_reload_mid_run_re_attaches_with_nothing_doubled_or_missing(
    chat: Page, page_api: str, target: Target
) -> None:
    chat.goto(f"{page_api}&tokens=80&token_delay=0.04")
    send(chat, "reloads")
    streaming = growing(chat)
    thread_id = thread_of(chat)
    (run,) = target.runs(thread_id)
    assert run["status"] == "running"
    chat.reload()
    expect(chat.locator("#status")).to_have_text("streaming", timeout=20_000)
    expect(chat.locator("#status")).to_have_text("idle", timeout=60_000)
    expect(chat.locator("#messages li")).to_have_count(5, timeout=10_000)
    check_shows_the_thread(chat, target, thread_id, "reloads")
    # The message streaming at the reload went on growing on the re-attached page, to its end.
    final = {m_id: text for _, m_id, text in shown(chat)}
    steps = growth(chat, streaming)
    assert len(steps) >= 3 and steps[-1] == final[streaming], steps
    assert all(final[streaming].startswith(step) for step in steps)
    (same,) = target.runs(thread_id)  # re-attached to the run, not run again
    assert same["run_id"] == run["run_id"] and same["status"] == "success"


def test_stop_cancels_the_run_and_the_text_stops_growing(
    chat: Page, page_api: str, target: Target
) -> None:
    chat.goto(f"{page_api}&tokens=80&token_delay=0.04")
    send(chat, "stops")
    streaming = growing(chat)
    thread_id = thread_of(chat)
    chat.click("#stop")
    expect(chat.locator("#status")).to_have_text("idle", timeout=10_000)
    deadline = time.monotonic() + 20
    while (status := target.runs(thread_id)[0]["status"]) in ("pending", "running"):
        assert time.monotonic() < deadline, "the run was not cancelled"
        time.sleep(0.2)
    assert status == "interrupted"  # what LangGraph calls a cancelled run
    before = shown(chat)
    time.sleep(1.5)
    assert shown(chat) == before  # nothing more arrives
    text = {m_id: text for _, m_id, text in before}[streaming]
    assert 10 <= len(text.split(" ")) < 80, text  # stopped part way
    assert chat.locator("#error").count() == 0
    expect(chat.locator("#stop")).to_be_disabled()
