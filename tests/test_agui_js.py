"""The AG-UI dialect through the official client: `@ag-ui/client`'s HttpAgent from Node
(`tests/js/agui_chat.mjs`), whose event verifier checks every stream as it applies it."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TESTS, Server, start_server

JS = TESTS / "js"


@pytest.fixture(scope="module")
def agui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("agui-js"), checkpointer="memory://")
    yield srv
    srv.stop()


def chat(server: Server) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (the JS client tests need Node.js 20)")
    if not (JS / "node_modules" / "@ag-ui" / "client").exists():
        pytest.fail("the JS packages are not installed: run `make test` (it runs npm ci)")
    done = subprocess.run(
        [node, "agui_chat.mjs", f"{server.url}/ag-ui", uuid.uuid4().hex],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_http_agent_runs_a_chat_with_an_interrupt_and_an_error(agui: Server) -> None:
    seen = chat(agui)
    first, paused, resumed, failed = seen["turns"]
    # The client's verifier accepted every stream: no turn failed on the protocol.
    for turn in (first, paused, resumed):
        assert turn["error"] is None, turn["error"]
        kinds = [e["type"] for e in turn["events"]]
        assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    assert first["outcome"]["type"] == "success"
    # The pause names its interrupt, and the resume by its id goes on to the answer.
    (interrupt,) = paused["outcome"]["interrupts"]
    assert "lookup" in interrupt["message"]
    assert resumed["outcome"]["type"] == "success"
    assert "TEXT_MESSAGE_START" in [e["type"] for e in resumed["events"]]
    # A failing node: RUN_ERROR last, the client told.
    assert failed["events"][-1]["type"] == "RUN_ERROR"
    assert "DemoFailure" in failed["events"][-1]["message"]
    # What the agent holds: each question once, each answer once, under the streamed ids.
    roles = [m["role"] for m in seen["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    streamed = [
        e["messageId"]
        for turn in (first, resumed)
        for e in turn["events"]
        if e["type"] == "TEXT_MESSAGE_START"
    ]
    assert [m["id"] for m in seen["messages"] if m["role"] == "assistant"] == streamed
