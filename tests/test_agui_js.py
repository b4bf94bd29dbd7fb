"""The AG-UI dialect through the official client: `@ag-ui/client`'s HttpAgent from Node
(`tests/js/agui_chat.mjs`), whose event verifier checks every stream as it applies it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Server, run_js, start_server

AG_UI = "@ag-ui/client"


@pytest.fixture(scope="module")
def agui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("agui-js"), checkpointer="memory://")
    yield srv
    srv.stop()


def chat(server: Server) -> dict[str, Any]:
    return run_js("agui_chat.mjs", f"{server.url}/ag-ui", uuid.uuid4().hex, package=AG_UI)


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


def test_a_join_mid_message_is_valid_ag_ui_and_adds_up_to_the_reply(agui: Server) -> None:
    import threading

    import httpx

    thread_id, run_id = uuid.uuid4().hex, uuid.uuid4().hex
    payload = {
        "threadId": thread_id,
        "runId": run_id,
        "messages": [{"id": uuid.uuid4().hex, "role": "user", "content": "hello"}],
        "state": {"delay": 0.01, "tokens": 60, "token_delay": 0.05},
    }
    streaming = threading.Event()

    def start() -> None:
        with httpx.stream("POST", f"{agui.url}/ag-ui", json=payload, timeout=60) as answer:
            for line in answer.iter_lines():
                if "TEXT_MESSAGE_CONTENT" in line:
                    streaming.set()

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    assert streaming.wait(30), "the run streamed no text"
    # The client's verifier accepts it: a join is a valid AG-UI stream on its own.
    path = f"/ag-ui/threads/{thread_id}/runs/{run_id}/stream"
    events = run_js("agui_join.mjs", f"{agui.url}{path}", package=AG_UI)
    starter.join(60)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["RUN_STARTED", "STATE_SNAPSHOT", "MESSAGES_SNAPSHOT"]
    assert kinds[-1] == "RUN_FINISHED"
    # The text so far, then the live deltas: the whole reply, as the final snapshot has it.
    (start_event,) = [e for e in events if e["type"] == "TEXT_MESSAGE_START"]
    text = "".join(
        e["delta"]
        for e in events
        if e["type"] == "TEXT_MESSAGE_CONTENT" and e["messageId"] == start_event["messageId"]
    )
    final = [e for e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1]["messages"]
    assert final[-1] == {"id": start_event["messageId"], "role": "assistant", "content": text}
    # Joined mid-message: its text so far came as one delta, the rest token by token.
    so_far = events[kinds.index("TEXT_MESSAGE_START") + 1]["delta"]
    assert 1 < len(so_far.split()) < len(text.split())


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("agui-js-agent"), "v2_graphs:agent")
    yield srv
    srv.stop()


def test_http_agent_shows_the_tool_call_and_its_result_once(agent: Server) -> None:
    seen = run_js("agui_tools.mjs", f"{agent.url}/ag-ui", uuid.uuid4().hex, package=AG_UI)
    kinds = [e["type"] for e in seen["events"]]
    assert {"TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"} <= set(kinds)
    (result,) = [e for e in seen["events"] if e["type"] == "TOOL_CALL_RESULT"]
    # The agent's messages after the snapshots: the tool's answer once, under the result's id,
    # right after the assistant message that called it.
    tools = [m for m in seen["messages"] if m["role"] == "tool"]
    assert [(m["id"], m["content"]) for m in tools] == [(result["messageId"], "found: hi")]
    roles = [m["role"] for m in seen["messages"]]
    assert roles[roles.index("tool") - 1] == "assistant"


def test_copilotkit_s_runtime_and_agent_run_a_chat_through_the_gateway(agui: Server) -> None:
    """CopilotKit end to end, offline: its runtime serves the gateway as an AG-UI agent, and its
    frontend core's agent (what CopilotKit's React hooks run) talks to that runtime."""
    seen = run_js(
        "copilotkit_chat.mjs",
        f"{agui.url}/ag-ui",
        uuid.uuid4().hex,
        package="@copilotkit/runtime",
    )
    first, second, paused, resumed, failed = seen["turns"]
    for turn in (first, second, paused, resumed):
        assert turn["error"] is None, turn["error"]
        kinds = [e["type"] for e in turn["events"]]
        assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    # The interrupt reaches the frontend through the runtime, and the resume by its id goes
    # back the same way: the approved lookup runs, then the answer.
    (interrupt,) = paused["events"][-1]["outcome"]["interrupts"]
    assert "lookup" in interrupt["message"]
    resumed_kinds = [e["type"] for e in resumed["events"]]
    assert "TOOL_CALL_RESULT" in resumed_kinds or any(
        e["type"] == "STEP_STARTED" and e["stepName"] == "lookup" for e in resumed["events"]
    ), resumed_kinds
    assert resumed["events"][-1]["outcome"]["type"] == "success"
    assert failed["events"][-1]["type"] == "RUN_ERROR"
    assert "DemoFailure" in failed["events"][-1]["message"]
    # Each question once, each answer once under its streamed id: the second turn's whole
    # history added nothing the thread already held.
    assert [m["role"] for m in seen["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    streamed = [
        e["messageId"]
        for turn in (first, second, resumed)
        for e in turn["events"]
        if e["type"] == "TEXT_MESSAGE_START"
    ]
    assert [m["id"] for m in seen["messages"] if m["role"] == "assistant"] == streamed
