"""A run's `webhook`, through LangGraph's Python SDK against a real uvicorn, posting to a real
receiver on the loopback: the payload of a run's end, once; a retry after a 5xx; failed and
cancelled runs; URLs the allow-list does not have, refused when the run is created; and runs
whose process died, posted by the process that ends them."""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from conftest import PostgresServer, RedisServer, Server, Spawn
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

from app.webhooks import refusal

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
SLOW = {"delay": 0.3, "tokens": 200, "token_delay": 0.05}
DEADLINE = 30  # seconds: only ever reached when something hangs


@dataclass
class Receiver:
    """A loopback HTTP server that records each POST and answers with the statuses it is
    given, in order (then 200)."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    posts: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for p, status, body in self.posts if p == path and status == 200]

    def attempts(self, path: str) -> list[int]:
        with self.lock:
            return [status for p, status, _ in self.posts if p == path]

    async def wait_for(self, path: str, count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + DEADLINE
        while len(self.delivered(path)) < count:
            assert time.monotonic() < deadline, f"no webhook at {path}: {self.posts}"
            await asyncio.sleep(0.05)
        return self.delivered(path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorded = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            with recorded.lock:
                status = recorded.answers.pop(0) if recorded.answers else 200
                recorded.posts.append((self.path, status, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorded.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield recorded
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def gateway(spawn: Spawn, receiver: Receiver) -> Server:
    return spawn(webhook_allow=f"{receiver.url}/hooks")


@pytest.fixture
async def sdk(gateway: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{gateway.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


async def test_a_run_that_ends_posts_its_end_once(sdk: LangGraphClient, receiver: Receiver) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    hook = f"{receiver.url}/hooks/thread-run?token=abc"
    run = await sdk.runs.create(thread_id, "demo", input={**FAST, "topic": "hooks"}, webhook=hook)
    await asyncio.wait_for(sdk.runs.join(thread_id, run["run_id"]), DEADLINE)
    [payload] = await receiver.wait_for("/hooks/thread-run?token=abc")
    state = await sdk.threads.get_state(thread_id)
    assert payload["run_id"] == run["run_id"]
    assert payload["thread_id"] == thread_id
    assert payload["assistant_id"] == run["assistant_id"]
    assert payload["status"] == "success"
    assert payload["values"] == state["values"]
    assert payload["values"]["topic"] == "hooks"
    assert payload["kwargs"]["webhook"] == hook
    assert payload["metadata"] == run["metadata"]
    assert payload["created_at"] == run["created_at"]
    started, ended, sent = (
        payload[k] for k in ("run_started_at", "run_ended_at", "webhook_sent_at")
    )
    assert payload["created_at"] <= started <= ended <= sent
    assert "error" not in payload
    # The run as its route shows it, plus what the webhook adds.
    shown = await sdk.runs.get(thread_id, run["run_id"])
    assert {k: v for k, v in payload.items() if k in shown} == shown
    assert payload["updated_at"] == ended
    # Once: a while later there is still only the one.
    await asyncio.sleep(1)
    assert receiver.attempts("/hooks/thread-run?token=abc") == [200]


async def test_a_stateless_wait_posts_the_values_it_answers(
    sdk: LangGraphClient, receiver: Receiver
) -> None:
    hook = f"{receiver.url}/hooks/wait"
    values = await sdk.runs.wait(None, "demo", input={**FAST, "topic": "wait"}, webhook=hook)
    [payload] = await receiver.wait_for("/hooks/wait")
    assert payload["status"] == "success"
    assert payload["values"] == values
    assert payload["kwargs"]["temporary"] is True


async def test_a_streamed_run_that_pauses_posts_a_success(
    sdk: LangGraphClient, receiver: Receiver
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    hook = f"{receiver.url}/hooks/paused"
    parts = sdk.runs.stream(thread_id, "demo", input={**FAST, "approve": True}, webhook=hook)
    async with asyncio.timeout(DEADLINE):
        events = [part.event async for part in parts]
    assert "values" in events
    [payload] = await receiver.wait_for("/hooks/paused")
    # As LangGraph says it: the run succeeded, its thread is interrupted.
    assert payload["status"] == "success"
    assert (await sdk.threads.get(thread_id))["status"] == "interrupted"
    assert payload["values"] == (await sdk.threads.get_state(thread_id))["values"]


async def test_a_failed_delivery_is_retried(sdk: LangGraphClient, receiver: Receiver) -> None:
    receiver.answers = [500]
    hook = f"{receiver.url}/hooks/retried"
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "demo", input=FAST, webhook=hook)
    [payload] = await receiver.wait_for("/hooks/retried")
    assert payload["run_id"] == run["run_id"]
    assert receiver.attempts("/hooks/retried") == [500, 200]
    await asyncio.sleep(1)
    assert receiver.attempts("/hooks/retried") == [500, 200]


async def test_a_failed_run_posts_its_error(sdk: LangGraphClient, receiver: Receiver) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    hook = f"{receiver.url}/hooks/failed"
    run = await sdk.runs.create(thread_id, "demo", input={**FAST, "fail": "write"}, webhook=hook)
    [payload] = await receiver.wait_for("/hooks/failed")
    assert payload["run_id"] == run["run_id"]
    assert payload["status"] == "error"
    assert payload["error"]["error"] == "DemoFailure"
    assert "failed on purpose" in payload["error"]["message"]
    # The state as the failed run left it.
    assert payload["values"] == (await sdk.threads.get_state(thread_id))["values"]


async def test_a_cancelled_run_posts_interrupted(sdk: LangGraphClient, receiver: Receiver) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    hook = f"{receiver.url}/hooks/cancelled"
    run = await sdk.runs.create(thread_id, "demo", input=SLOW, webhook=hook)
    await sdk.runs.cancel(thread_id, run["run_id"])
    [payload] = await receiver.wait_for("/hooks/cancelled")
    assert payload["run_id"] == run["run_id"]
    assert payload["status"] == "interrupted"


async def test_a_webhook_outside_the_allow_list_is_refused(
    sdk: LangGraphClient, gateway: Server, receiver: Receiver
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    outside = [
        f"{receiver.url}/hooksmith",
        f"{receiver.url}/other",
        receiver.url.replace("127.0.0.1", "localhost") + "/hooks",
        "http://127.0.0.1:9/hooks",
        receiver.url.replace("http:", "https:") + "/hooks",
        f"{receiver.url}/hooks/../admin",
    ]
    for url in outside:
        with pytest.raises(UnprocessableEntityError) as refused:
            await sdk.runs.create(thread_id, "demo", input=FAST, webhook=url)
        assert "GATEWAY_WEBHOOK_ALLOW" in str(refused.value) or ".." in url
    with pytest.raises(UnprocessableEntityError) as refused:
        await sdk.runs.create(None, "demo", input=FAST, webhook="ftp://127.0.0.1/hooks")
    assert "not an http:// or https:// URL" in str(refused.value)
    # A batch is refused whole: no run of it starts.
    batch = [
        {"assistant_id": "demo", "input": FAST, "webhook": f"{receiver.url}/hooks/batch"},
        {"assistant_id": "demo", "input": FAST, "webhook": f"{receiver.url}/other"},
    ]
    async with httpx.AsyncClient(base_url=f"{gateway.url}/langgraph", timeout=10) as raw:
        answer = await raw.post("/runs/batch", json=batch)
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        f"webhook '{receiver.url}/other' is not under any URL prefix GATEWAY_WEBHOOK_ALLOW allows"
    )
    await asyncio.sleep(1)
    assert receiver.posts == []
    assert await sdk.runs.list(thread_id) == []


async def test_webhooks_are_refused_when_none_is_allowed(spawn: Spawn, receiver: Receiver) -> None:
    srv = spawn()
    client = get_client(url=f"{srv.url}/langgraph", timeout=30)
    try:
        with pytest.raises(UnprocessableEntityError) as refused:
            await client.runs.create(None, "demo", input=FAST, webhook=f"{receiver.url}/hooks")
    finally:
        await client.aclose()
    assert "webhooks are off on this gateway: GATEWAY_WEBHOOK_ALLOW allows no URL" in str(
        refused.value
    )


def test_a_bad_allow_list_stops_the_gateway_at_start(spawn: Spawn) -> None:
    with pytest.raises(RuntimeError, match="is not an http:// or https:// URL prefix"):
        spawn(webhook_allow="hooks.example.com")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/run", True),
        ("https://HOOKS.example.com:443/run?x=1", True),
        ("https://hooks.example.com", True),
        ("http://hooks.example.com/run", False),  # another scheme
        ("https://hooks.example.com:8443/run", False),  # another port
        ("https://hooks.example.com.evil.net/run", False),
        ("https://hooks.example.com@evil.net/run", False),  # a user name, then the host
        ("http://127.0.0.1:9000/hooks", True),
        ("http://127.0.0.1:9000/hooks/a/b", True),
        ("http://127.0.0.1:9000/hooksmith", False),
        ("http://127.0.0.1:9000/hooks/%2e%2e/admin", False),
        ("http://127.0.0.1:9000/", False),
        ("file:///etc/passwd", False),
        ("/relative/hook", False),
    ],
)
def test_which_urls_the_allow_list_has(url: str, allowed: bool) -> None:
    prefixes = ["https://hooks.example.com", "http://127.0.0.1:9000/hooks"]
    assert (refusal(url, prefixes) is None) is allowed
    assert refusal(url, []) is not None


# Several processes over a real Redis and PostgreSQL: the one that ends a run posts its end.
LEASE = 1.5
LONG = {"delay": 0.1, "tokens": 120, "token_delay": 0.05, "topic": "durable hooks"}


@pytest.fixture
def shared(
    spawn: Spawn, private_redis: RedisServer, postgres_server: PostgresServer, receiver: Receiver
) -> Spawn:
    return functools.partial(
        spawn,
        store_url=private_redis.url,
        checkpointer=postgres_server.url,
        run_lease_seconds=LEASE,
        webhook_allow=f"{receiver.url}/hooks",
    )


async def _kill_while_streaming(killed: Server, watching: Server, hook: str) -> dict[str, Any]:
    """A run started on `killed` with `hook`, read from `watching`; `killed` is killed in the
    middle of it. The run as created."""
    on_killed = get_client(url=f"{killed.url}/langgraph", timeout=30)
    on_watching = get_client(url=f"{watching.url}/langgraph", timeout=30)
    try:
        thread_id = (await on_killed.threads.create())["thread_id"]
        run = await on_killed.runs.create(
            thread_id, "demo", input=LONG, stream_mode=["messages-tuple"], webhook=hook
        )
        parts = 0
        stream = on_watching.runs.join_stream(thread_id, run["run_id"])
        async with asyncio.timeout(DEADLINE * 2):
            async for part in stream:
                parts += part.event == "messages"
                if parts == 20:
                    killed.process.kill()
        assert parts >= 20  # (killed in the middle, not after the end)
        return run
    finally:
        await on_killed.aclose()
        await on_watching.aclose()


async def test_a_run_taken_over_posts_once_from_the_process_that_ends_it(
    shared: Spawn, receiver: Receiver
) -> None:
    a, b, c = shared(), shared(), shared()
    hook = f"{receiver.url}/hooks/taken-over"
    run = await _kill_while_streaming(a, b, hook)
    [payload] = await receiver.wait_for("/hooks/taken-over")
    assert payload["run_id"] == run["run_id"]
    assert payload["status"] == "success"
    assert payload["values"]["answer"].startswith("On durable hooks")
    assert payload["run_started_at"] > run["created_at"]  # its second attempt's start
    await asyncio.sleep(1)
    assert receiver.attempts("/hooks/taken-over") == [200]
    assert c.process.poll() is None


async def test_a_run_ended_as_lost_posts_its_error(shared: Spawn, receiver: Receiver) -> None:
    a, b = shared(run_max_attempts=1), shared(run_max_attempts=1)
    hook = f"{receiver.url}/hooks/lost"
    run = await _kill_while_streaming(a, b, hook)
    [payload] = await receiver.wait_for("/hooks/lost")
    assert payload["run_id"] == run["run_id"]
    assert payload["status"] == "error"
    assert payload["error"]["error"] == "WorkerLost"
    assert payload["run_started_at"] is None  # its process is gone, and that with it
    await asyncio.sleep(1)
    assert receiver.attempts("/hooks/lost") == [200]
