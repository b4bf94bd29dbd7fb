"""GET /threads/{id}/storage, the bytes a thread's checkpoints occupy, against a real uvicorn
over the in-memory saver and PostgreSQL (the `server` fixture's two stores) and SQLite; the SDK
has no call for it, so it is read with httpx."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Server, Spawn
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from app.checkpoint_storage import NotMeasurable, thread_storage

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
TIMEOUT = 30


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=TIMEOUT)
    yield client
    await client.aclose()


async def storage(base: str, thread_id: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        return await http.get(f"{base}/langgraph/threads/{thread_id}/storage", headers=headers)


def consistent(report: dict[str, Any]) -> None:
    channels = report["channel_values"]
    assert channels["bytes"] == sum(c["bytes"] for c in channels["by_channel"].values())
    assert channels["count"] == sum(c["versions"] for c in channels["by_channel"].values())
    parts = report["checkpoints"]["bytes"] + channels["bytes"] + report["pending_writes"]["bytes"]
    assert report["total_bytes"] == parts


async def test_a_threads_bytes_are_counted_per_channel(
    server: Server, sdk: LangGraphClient
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    empty = await storage(server.url, thread_id)
    assert empty.status_code == 200
    assert empty.json() == {
        "thread_id": thread_id,
        "total_bytes": 0,
        "checkpoints": {"count": 0, "bytes": 0},
        "channel_values": {"count": 0, "bytes": 0, "by_channel": {}},
        "pending_writes": {"count": 0, "bytes": 0},
    }
    topic = secrets.token_hex(4000)  # 8000 characters that do not compress
    await sdk.runs.wait(thread_id, "demo", input={**FAST, "topic": topic})
    first = (await storage(server.url, thread_id)).json()
    consistent(first)
    history = await sdk.threads.get_history(thread_id, limit=100)
    assert first["checkpoints"]["count"] == len(history)
    # The human message holds the topic: its channel holds at least its bytes.
    assert first["channel_values"]["by_channel"]["messages"]["bytes"] >= len(topic)
    await sdk.runs.wait(thread_id, "demo", input={**FAST, "topic": "more"})
    second = (await storage(server.url, thread_id)).json()
    consistent(second)
    assert second["checkpoints"]["count"] > first["checkpoints"]["count"]
    assert second["total_bytes"] > first["total_bytes"]
    missing = await storage(server.url, "no-such-thread")
    assert missing.status_code == 404


async def test_sqlite_keeps_the_values_in_its_checkpoints(spawn: Spawn, tmp_path: Path) -> None:
    srv = spawn(checkpointer=f"sqlite:///{tmp_path}/threads.db")
    client = get_client(url=f"{srv.url}/langgraph", timeout=TIMEOUT)
    try:
        thread_id = (await client.threads.create())["thread_id"]
        topic = secrets.token_hex(4000)
        await client.runs.wait(thread_id, "demo", input={**FAST, "topic": topic})
        report = (await storage(srv.url, thread_id)).json()
    finally:
        await client.aclose()
    consistent(report)
    assert report["channel_values"] == {"count": 0, "bytes": 0, "by_channel": {}}
    assert report["checkpoints"]["count"] > 0
    assert report["checkpoints"]["bytes"] >= len(topic)


async def test_another_principals_thread_is_not_found(spawn: Spawn) -> None:
    ann_key, bob_key = "key-ann-0123456789abcdef", "key-bob-0123456789abcdef"
    srv = spawn(auth="api-keys", api_keys=f"ann:{ann_key},bob:{bob_key}")
    ann = get_client(url=f"{srv.url}/langgraph", api_key=ann_key, timeout=TIMEOUT)
    try:
        thread_id = (await ann.threads.create())["thread_id"]
    finally:
        await ann.aclose()
    assert (await storage(srv.url, thread_id, **{"x-api-key": ann_key})).status_code == 200
    assert (await storage(srv.url, thread_id, **{"x-api-key": bob_key})).status_code == 404


async def test_a_saver_of_another_kind_is_not_measured() -> None:
    class Elsewhere(BaseCheckpointSaver[Any]):
        pass

    with pytest.raises(NotMeasurable, match="Elsewhere"):
        await thread_storage(Elsewhere(), "t")
