"""The AI SDK dialect through the SDK's own client code from Node (`tests/js/ai_sdk_chat.mjs`):
its strict schema of stream parts and its reader check every answer; its Chat (what `useChat`
drives) runs a conversation with an approval and an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import Server, run_js, start_server


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("ai-sdk-js"), checkpointer="memory://")
    yield srv
    srv.stop()


def run_client(server: Server, reader_chat: str, chat_id: str) -> dict[str, Any]:
    return run_js("ai_sdk_chat.mjs", server.url, reader_chat, chat_id, package="ai")


def visible(message: dict[str, Any]) -> list[tuple[str, Any]]:
    """(type, state or text) of a message's parts, less node progress and data."""
    return [
        (p["type"], p.get("state") if p["type"] != "text" else p["text"][:9])
        for p in message["parts"]
        if not p["type"].startswith("data-")
    ]


def test_the_sdk_reads_every_part_and_its_chat_runs_a_conversation(chat: Server) -> None:
    reader_chat, chat_id = uuid.uuid4().hex, uuid.uuid4().hex
    seen = run_client(chat, reader_chat, chat_id)

    # Every part passed the SDK's schema, and its reader built one message from them.
    reader = seen["reader"]
    assert reader["errors"] == []
    kinds = [p["type"] for p in reader["parts"]]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    message = reader["message"]
    assert message["id"] == reader["parts"][0]["messageId"]
    (answer,) = [p for p in message["parts"] if p["type"] == "text"]
    assert answer["state"] == "done" and answer["text"].startswith("On hello:")
    progress = [p for p in message["parts"] if p["type"] == "data-progress"]
    assert [p["data"] for p in progress] == [{"step": "planning", "percent": 100}]
    assert len([p for p in message["parts"] if p["type"] == "data-node"]) == 6

    # The conversation: one assistant message per turn, in order.
    messages = seen["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4
    assert [m["parts"][0]["text"] for m in messages[::2]] == [
        "hello",
        "look it up",
        "fail please",
        "and after",
    ]
    # The approval was asked on a tool part, answered, and the answer continued the same
    # message: its call resolved, then the rest of the turn.
    asked = seen["asked"]
    (request,) = [p for p in asked["parts"] if p.get("state") == "approval-requested"]
    assert request["type"] == "dynamic-tool" and request["toolName"] == "lookup"
    assert request["input"] == {"topic": "look it up"}
    continued = messages[3]
    assert continued["id"] == asked["id"]
    (resolved,) = [p for p in continued["parts"] if p.get("toolCallId") == request["toolCallId"]]
    assert resolved["state"] == "output-available"
    assert visible(continued)[-1] == ("text", "On look i")
    # One request per message, and exactly one for the approval: nothing sent twice.
    assert seen["requests"] == ["POST /ai-sdk/chat"] * 5
    # The failing turn told the chat its error, and the chat went on.
    assert seen["errors"] == ["DemoFailure: node 'merge' failed on purpose (input fail='merge')"]
    assert seen["status"] == "ready"
    assert visible(messages[7])[-1][0] == "text"

    # The thread holds each turn once.
    values = httpx.get(f"{chat.url}/threads/{chat_id}/state", timeout=10).json()["values"]
    humans = [m["content"] for m in values["messages"] if m["type"] == "human"]
    assert humans == ["hello", "look it up", "fail please", "and after"]


def test_the_sdk_reads_a_models_reasoning(tmp_path_factory: pytest.TempPathFactory) -> None:
    srv = start_server(tmp_path_factory.mktemp("ai-sdk-js-reasoner"), "ai_sdk_graphs:reasoner")
    try:
        seen = run_js("ai_sdk_read.mjs", f"{srv.url}/ai-sdk/chat", "r", "1", package="ai")
    finally:
        srv.stop()
    assert seen["errors"] == []
    parts = [
        (p["type"], p.get("text")) for p in seen["message"]["parts"] if p["type"] != "data-node"
    ]
    assert parts == [
        ("step-start", None),
        ("reasoning", "The question is short."),
        ("text", "Short answer."),
    ]
