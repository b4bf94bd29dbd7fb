"""The same client script (`tests/js/ai_sdk_read.mjs`: DefaultChatTransport, the SDK's reader
and its resume) against the gateway's /ai-sdk/chat and against the AI SDK's own stream writer
(`tests/js/ai_sdk_writer.mjs`, createUIMessageStream in Node, as a useChat backend is written):
both give a message the SDK accepts; only the gateway's parts carry ids, and only it resumes."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import JS, Server, free_port, node, run_js, start_server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv: Server = start_server(tmp_path_factory.mktemp("ai-sdk-sbs"), checkpointer="memory://")
    yield f"{srv.url}/ai-sdk/chat"
    srv.stop()


@pytest.fixture(scope="module")
def writer() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([node("ai"), "ai_sdk_writer.mjs", str(port)], cwd=JS)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the AI SDK writer did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/api/chat"
    finally:
        process.terminate()
        process.wait(10)


def read(api: str, tokens: int = 8) -> dict[str, Any]:
    return run_js("ai_sdk_read.mjs", api, uuid.uuid4().hex, str(tokens), package="ai")


def test_both_give_a_message_the_sdk_accepts(gateway: str, writer: str) -> None:
    ours, theirs = read(gateway), read(writer)
    for seen in (ours, theirs):
        assert seen["errors"] == []
        kinds = [p["type"] for p in seen["parts"]]
        assert kinds[:2] == ["start", "start-step"] and kinds[-2:] == ["finish-step", "finish"]
        (text,) = [p for p in seen["message"]["parts"] if p["type"] == "text"]
        assert text["state"] == "done" and len(text["text"].split()) >= 8
        assert seen["message"]["id"] == seen["parts"][0]["messageId"]
    # Every part of the gateway's has an id (and [DONE] too), unique; the writer's have none.
    assert len(ours["ids"]) == len(ours["parts"]) + 1 == len(set(ours["ids"]))
    assert theirs["ids"] == []
    # useChat's resume: the gateway says there is nothing left to resume (204); the writer has
    # no such route (the AI SDK leaves it to the resumable-stream package and a Redis).
    assert ours["resumed"] == "nothing to resume"
    assert theirs["resumed"] == "refused: 404"


def resume_mid_answer(api: str) -> tuple[httpx.Response, list[str]]:
    """useChat's resume while an answer is being written: its reply, and the answer's lines."""
    chat_id = uuid.uuid4().hex
    started = threading.Event()
    whole: list[str] = []
    body = {
        "id": chat_id,
        "messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        "trigger": "submit-message",
        "input": {"tokens": 60, "token_delay": 0.03, "delay": 0.01},
    }

    def answer() -> None:
        with httpx.stream("POST", api, json=body, timeout=60) as response:
            for line in response.iter_lines():
                whole.append(line)
                if "text-delta" in line:
                    started.set()

    reader = threading.Thread(target=answer, daemon=True)
    reader.start()
    assert started.wait(30)
    resumed = httpx.get(f"{api}/{chat_id}/stream", timeout=60)
    reader.join(60)
    return resumed, whole


def test_only_the_gateway_resumes_an_answer_mid_stream(gateway: str, writer: str) -> None:
    ours, whole = resume_mid_answer(gateway)
    assert ours.status_code == 200
    data = [line for line in ours.text.split("\n") if line.startswith("data: ")]
    assert data == [line for line in whole if line.startswith("data: ")]  # the whole message
    theirs, _ = resume_mid_answer(writer)
    assert theirs.status_code == 404
