"""The same AG-UI request to the gateway's `/ag-ui` and to ag-ui-langgraph (AG-UI's own LangGraph
adapter, `tests/agui_peer.py`) serving the demo graph: the same events in the same order, once
ids are set aside and what the adapter gets wrong is said."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, TESTS, Server, free_port, start_server

QUICK = {"delay": 0.01, "tokens": 6, "token_delay": 0.01}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv: Server = start_server(tmp_path_factory.mktemp("agui-gw"), checkpointer="memory://")
    yield f"{srv.url}/ag-ui"
    srv.stop()


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path: Path = tmp_path_factory.mktemp("agui-peer") / "peer.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "agui_peer:app", "--port", str(port)],
            cwd=TESTS,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{TESTS}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ag-ui/health", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ag-ui-langgraph did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/ag-ui"
    finally:
        process.terminate()
        process.wait(10)


def run(url: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    body = {
        "threadId": uuid.uuid4().hex,
        "runId": uuid.uuid4().hex,
        "messages": [{"id": uuid.uuid4().hex, "role": "user", "content": "hello"}],
        "state": state,
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    answer = httpx.post(url, json=body, headers={"Accept": "text/event-stream"}, timeout=60)
    assert answer.status_code == 200, answer.text
    events = [
        json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")
    ]
    # Its RAW events (LangGraph's own, passed through) are the adapter's extra.
    return [e for e in events if e["type"] != "RAW"]


def shape(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each event's type and what names it (a step, a custom event), without ids."""
    return [(e["type"], str(e.get("stepName") or e.get("name") or "")) for e in events]


def test_a_run_gives_the_same_events_in_the_same_order(gateway: str, adapter: str) -> None:
    ours, theirs = run(gateway, QUICK), run(adapter, QUICK)
    # The adapter drops what a node writes with get_stream_writer() (our CUSTOM "custom")...
    assert {e["name"] for e in ours if e["type"] == "CUSTOM"} == {"progress", "custom"}
    assert {e["name"] for e in theirs if e["type"] == "CUSTOM"} == {"progress"}
    ours = [e for e in ours if not (e["type"] == "CUSTOM" and e["name"] == "custom")]
    # ...shows the two parallel research nodes as three rounds of one after the other...
    steps = [s for s in shape(theirs) if s[1].startswith("research_")]
    assert len(steps) == 12 and len(set(steps)) == 4
    theirs = _first_round_of_research(theirs)
    # ...and sends the whole state after every node (ours: once, before the end).
    theirs = [
        e for i, e in enumerate(theirs) if e["type"] != "STATE_SNAPSHOT" or i == len(theirs) - 3
    ]
    ours_shape, their_shape = shape(ours), shape(theirs)
    # Parallel nodes: we say both started, then both finished; the adapter one after the other.
    assert _without_research(ours_shape) == _without_research(their_shape)
    # The answer: the same text, in the same deltas, and the same messages at the end.
    assert _deltas(ours) == _deltas(theirs)
    assert _messages(ours) == _messages(theirs)


def _first_round_of_research(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for event in events:
        key = (event["type"], str(event.get("stepName") or ""))
        if key[1].startswith("research_"):
            if key in seen:
                continue
            seen.add(key)
        out.append(event)
    return out


def _without_research(shape_: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [s for s in shape_ if not s[1].startswith("research_")]


def _deltas(events: list[dict[str, Any]]) -> list[str]:
    return [e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]


def _messages(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    (snapshot,) = [e for e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1:]
    return [(m["role"], m.get("content", "")) for m in snapshot["messages"]]
