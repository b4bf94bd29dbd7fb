"""Durable runs: several processes over a real Redis and a real PostgreSQL. A run whose process
dies goes on in another one from its thread's last checkpoint, as a new attempt in the same
log; a process that is stopped (SIGTERM) drains, then hands its runs over."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from conftest import PostgresServer, RedisServer, Server, Spawn
from conftest import client_for as client
from httpx_sse import aconnect_sse, connect_sse
from playwright.sync_api import Browser, expect
from sse import Received

LEASE = 1.5
# Long enough to be killed in the middle of: the `write` node streams its answer for 6 s.
LONG = {"delay": 0.1, "tokens": 120, "token_delay": 0.05, "topic": "durable runs"}


@pytest.fixture
def spawn(spawn: Spawn, private_redis: RedisServer, postgres_server: PostgresServer) -> Spawn:
    # A Redis of the test's own: a process of another test, with another lease, would be
    # watched with this one's (every process of one deployment must share its lease).
    return functools.partial(
        spawn,
        store_url=private_redis.url,
        checkpointer=postgres_server.url,
        run_lease_seconds=LEASE,
    )


def alive(servers: list[Server]) -> list[Server]:
    return [s for s in servers if s.process.poll() is None]


class Follower:
    """One run's stream read to its run.end in a thread, reconnecting with Last-Event-ID to
    whichever process is alive (the next one in turn) whenever its connection ends short."""

    def __init__(self, servers: Callable[[], list[Server]], run_id: str, first: Server) -> None:
        self.events: list[Received] = []
        self.connections: list[str] = []
        self.failures: list[str] = []
        self._servers = servers
        self._run_id = run_id
        self._first = first
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        deadline = time.monotonic() + 120
        server: Server | None = self._first
        turn = 0
        while time.monotonic() < deadline:
            if server is None or server.process.poll() is not None:
                candidates = self._servers()
                if not candidates:
                    time.sleep(0.2)
                    continue
                server, turn = candidates[turn % len(candidates)], turn + 1
            headers = {"Last-Event-ID": self.events[-1].id} if self.events else {}
            self.connections.append(server.url)
            try:
                with (
                    client(server) as c,
                    connect_sse(c, "GET", f"/runs/{self._run_id}/stream", headers=headers) as s,
                ):
                    if s.response.status_code == 204:
                        return
                    s.response.raise_for_status()
                    for sse in s.iter_sse():
                        if sse.data:
                            self.events.append(Received(sse.event, sse.id, json.loads(sse.data)))
                        if sse.event == "run.end":
                            return
            except httpx.HTTPError as exc:
                self.failures.append(f"{server.url}: {type(exc).__name__}")
            server = None
            time.sleep(0.1)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            assert time.monotonic() < deadline, [e.name for e in self.events][-10:]
            time.sleep(0.02)

    def finished(self, timeout: float = 90) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def tokens(events: list[Received]) -> int:
    return sum(e.name == "token" for e in events)


def check_exact(events: list[Received]) -> None:
    """Every event once, in order, ending with run.end: what a reader must get however many
    connections and processes it took."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len({e.id for e in events}) == len(events)
    assert events[-1].name == "run.end"
    assert [e.name for e in events].count("run.start") == 1


def final_values(server: Server, thread_id: str) -> dict[str, Any]:
    with client(server) as c:
        values = c.get(f"/threads/{thread_id}/state").json()["values"]
    # A model's reply gets a fresh id each time it is made: compare what the messages say.
    values["messages"] = [(m["type"], m["content"]) for m in values["messages"]]
    return values


def owner_of(redis_url: str, run_id: str) -> str:
    with redis.Redis.from_url(redis_url) as r:
        return r.hget(f"sse-gateway:run:{{{run_id}}}", "owner").decode()


def server_of(servers: list[Server], process_id: str) -> Server:
    pid = int(process_id.split(":")[1])
    (server,) = [s for s in servers if s.process.pid == pid]
    return server


def test_a_run_whose_process_is_killed_goes_on_elsewhere_as_attempt_2(spawn: Spawn) -> None:
    a, b, c = spawn(), spawn(), spawn()
    servers = [a, b, c]
    with client(b) as on_b:
        # The same input, never interrupted: what the killed run must end up with.
        created = on_b.post("/runs", json={"input": {**LONG, "token_delay": 0.002}}).json()
        uninterrupted = Follower(lambda: alive(servers), created["run_id"], b)
        assert uninterrupted.finished()
        expected = final_values(b, created["thread_id"])
    with client(a) as on_a:
        created = on_a.post("/runs", json={"input": LONG}).json()
    run_id, thread_id = created["run_id"], created["thread_id"]
    # One reader on the process that is killed, one on a process that stays: both read
    # through the kill.
    on_killed = Follower(lambda: alive(servers), run_id, a)
    staying = Follower(lambda: alive(servers), run_id, c)
    on_killed.wait_for(lambda events: tokens(events) >= 20)
    a.process.kill()
    for follower in (on_killed, staying):
        assert follower.finished(), follower.connections
    assert len(on_killed.connections) >= 2, "the reader of the killed process never reconnected"
    for follower in (on_killed, staying):
        events = follower.events
        check_exact(events)
        assert events[-1].data["status"] == "success"
        (attempt,) = [e for e in events if e.name == "run.attempt"]
        assert attempt.data["attempt"] == 2 and attempt.data["reason"] == "process_lost"
        before = events[: events.index(attempt)]
        # The answer being streamed when the process died is named, to be dropped...
        streaming = {e.data["message_id"] for e in before if e.name == "token"}
        assert set(attempt.data["unfinished"]["messages"]) == streaming
        assert "write" in [span["node"] for span in attempt.data["unfinished"]["spans"]]
        # ...and is made again, whole, from the checkpoint the attempt names.
        after = events[events.index(attempt) :]
        assert attempt.data["checkpoint_id"] and not attempt.data["from_start"]
        assert tokens(after) == LONG["tokens"]
        assert not streaming & {e.data["message_id"] for e in after if e.name == "token"}
        # Nodes that had finished before the kill are not run again.
        ended_before = {e.data["node"] for e in before if e.name == "node.end"}
        started_after = {e.data["node"] for e in after if e.name == "node.start"}
        assert "plan" in ended_before and not ended_before & started_after
    assert [e.id for e in on_killed.events] == [e.id for e in staying.events]
    with client(b) as on_b:
        run = on_b.get(f"/runs/{run_id}").json()
    assert run["status"] == "success" and run["attempt"] == 2
    assert final_values(b, thread_id) == {**expected, "token_delay": LONG["token_delay"]}
    # The process that continued it counts it.
    taken = 'gateway_runs_taken_over_total{outcome="continued",reason="process_lost"} 1.0'
    assert sum(taken in httpx.get(f"{s.url}/metrics").text for s in (b, c)) == 1


def test_a_queued_run_of_a_killed_process_keeps_its_place(spawn: Spawn) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a:
        thread_id = on_a.post("/threads", json={}).json()["thread_id"]
        first = on_a.post(f"/threads/{thread_id}/runs", json={"input": LONG}).json()
        queued = on_a.post(
            f"/threads/{thread_id}/runs",
            json={"input": {"delay": 0.01, "tokens": 3}, "multitask_strategy": "enqueue"},
        ).json()
    readers = [Follower(lambda: alive([a, b]), run["run_id"], b) for run in (first, queued)]
    readers[0].wait_for(lambda events: tokens(events) >= 5)
    a.process.kill()
    for reader in readers:
        assert reader.finished()
        check_exact(reader.events)
        assert reader.events[-1].data["status"] == "success"
    first_events, queued_events = readers[0].events, readers[1].events
    assert "run.attempt" in [e.name for e in first_events]
    # The queued run had not begun: it starts once, after the first has ended.
    assert "run.attempt" not in [e.name for e in queued_events]
    assert queued_events[0].data["ts"] >= first_events[-1].data["ts"]
    with client(b) as on_b:
        assert on_b.get(f"/runs/{queued['run_id']}").json()["attempt"] == 1
        runs = on_b.get(f"/threads/{thread_id}/runs").json()
    assert [r["run_id"] for r in runs] == [queued["run_id"], first["run_id"]]


def test_a_run_killed_on_every_attempt_ends_worker_lost(
    spawn: Spawn, private_redis: RedisServer
) -> None:
    servers = [spawn(run_max_attempts=2) for _ in range(3)]
    first = servers[0]
    with client(first) as on_first:
        run_id = on_first.post("/runs", json={"input": LONG}).json()["run_id"]
    follower = Follower(lambda: alive(servers), run_id, servers[1])
    follower.wait_for(lambda events: tokens(events) >= 10)
    first.process.kill()
    follower.wait_for(lambda events: any(e.name == "run.attempt" for e in events))
    # Killed again, wherever the second attempt runs.
    follower.wait_for(lambda events: tokens(events[-5:]) >= 5)
    server_of(servers, owner_of(private_redis.url, run_id)).process.kill()
    assert follower.finished()
    events = follower.events
    check_exact(events)
    assert [e.data["attempt"] for e in events if e.name == "run.attempt"] == [2]
    assert [e.name for e in events[-2:]] == ["run.error", "run.end"]
    error = events[-2].data["error"]
    assert error["type"] == "WorkerLost" and "each of its 2 attempts" in error["message"]
    assert events[-1].data["status"] == "error"


def test_with_retries_off_a_killed_run_ends_worker_lost(spawn: Spawn) -> None:
    a, b = spawn(run_max_attempts=1), spawn(run_max_attempts=1)
    with client(a) as on_a:
        run_id = on_a.post("/runs", json={"input": LONG}).json()["run_id"]
    follower = Follower(lambda: alive([a, b]), run_id, b)
    follower.wait_for(lambda events: tokens(events) >= 5)
    a.process.kill()
    assert follower.finished()
    check_exact(follower.events)
    assert "run.attempt" not in [e.name for e in follower.events]
    assert follower.events[-2].data["error"]["type"] == "WorkerLost"


def test_an_interrupted_thread_whose_process_died_stays_resumable(spawn: Spawn) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a:
        created = on_a.post("/runs", json={"input": {"delay": 0.01, "approve": True}}).json()
    first = Follower(lambda: alive([a, b]), created["run_id"], a)
    assert first.finished()
    assert first.events[-1].data["status"] == "interrupted"
    a.process.kill()
    thread_id = created["thread_id"]
    with client(b) as on_b:
        # Well past the lease: b has found a stopped and taken what it left.
        time.sleep(LEASE * 3)
        thread = on_b.get(f"/threads/{thread_id}").json()
        assert thread["status"] == "interrupted" and thread["interrupts"]
        run = on_b.get(f"/runs/{created['run_id']}").json()
        assert run["status"] == "interrupted" and run["attempt"] == 1
        resumed = on_b.post(
            f"/threads/{thread_id}/runs",
            json={"command": {"resume": True}},
        )
        assert resumed.status_code == 201, resumed.text
    second = Follower(lambda: alive([b]), resumed.json()["run_id"], b)
    assert second.finished()
    check_exact(second.events)
    assert second.events[-1].data["status"] == "success"
    assert "run.attempt" not in [e.name for e in second.events]


def test_sigterm_drains_then_hands_the_rest_to_the_next_process(spawn: Spawn) -> None:
    a = spawn(drain_seconds=2)
    servers = [a]
    with client(a) as on_a:
        short = on_a.post("/runs", json={"input": {"delay": 0.1, "tokens": 5}}).json()
        long = on_a.post("/runs", json={"input": LONG}).json()
        short_reader = Follower(lambda: alive(servers), short["run_id"], a)
        long_reader = Follower(lambda: alive(servers), long["run_id"], a)
        long_reader.wait_for(lambda events: tokens(events) >= 5)
        a.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := on_a.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "never answered 503 while draining"
            time.sleep(0.05)
        assert ready.status_code == 503 and ready.json() == {"status": "draining"}
        refused = on_a.post("/runs", json={"input": {"delay": 0.01}})
        assert refused.status_code == 503 and refused.json()["error"] == "draining"
        assert on_a.get("/healthz").status_code == 200
    # The short run finishes within the drain; the long one is left for another process.
    assert short_reader.finished(30)
    assert short_reader.events[-1].data["status"] == "success"
    assert a.process.wait(30) in (0, -signal.SIGTERM), a.output()
    assert "Traceback" not in a.output()
    # Its stream was ended (no run.end) so that its client reconnects elsewhere.
    b = spawn()
    servers.append(b)
    assert long_reader.finished()
    events = long_reader.events
    check_exact(events)
    assert events[-1].data["status"] == "success"
    (attempt,) = [e for e in events if e.name == "run.attempt"]
    assert attempt.data["reason"] == "handed_over" and attempt.data["attempt"] == 2
    assert "cancelled" not in {e.data.get("status") for e in events}


async def _start(servers: list[Server], body: dict[str, Any], turn: int) -> dict[str, Any]:
    """A run started on any process that takes it (a draining one answers 503)."""
    deadline = time.monotonic() + 60
    while True:
        candidates = alive(servers)
        server = candidates[turn % len(candidates)]
        turn += 1
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as c:
                answer = await c.post("/runs", json=body)
            if answer.status_code == 201:
                return {**answer.json(), "server": server}
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "no process would start the run"
        await asyncio.sleep(0.1)


async def _read(servers: list[Server], run: dict[str, Any], turn: int) -> list[Received]:
    events: list[Received] = []
    deadline = time.monotonic() + 150
    server: Server = run["server"]
    while time.monotonic() < deadline:
        headers = {"Last-Event-ID": events[-1].id} if events else {}
        try:
            async with (
                httpx.AsyncClient(base_url=server.url, timeout=30) as c,
                aconnect_sse(c, "GET", f"/runs/{run['run_id']}/stream", headers=headers) as s,
            ):
                s.response.raise_for_status()
                async for sse in s.aiter_sse():
                    if sse.data:
                        events.append(Received(sse.event, sse.id, json.loads(sse.data)))
                    if sse.event == "run.end":
                        return events
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
        candidates = alive(servers)
        server, turn = candidates[turn % len(candidates)], turn + 1
    raise AssertionError(f"run {run['run_id']} did not end: {[e.name for e in events][-5:]}")


def test_a_rolling_restart_under_load_ends_every_run_in_success(spawn: Spawn) -> None:
    settings = {"drain_seconds": 2, "max_runs": 200}
    servers = [spawn(**settings) for _ in range(3)]
    body = {"input": {"delay": 0.2, "tokens": 60, "token_delay": 0.05}}
    per_round = 40

    async def main() -> list[list[Received]]:
        readers: list[asyncio.Task[list[Received]]] = []
        for round_ in range(3):
            runs = await asyncio.gather(
                *(
                    _start(servers, body, i)
                    for i in range(per_round * round_, per_round * (round_ + 1))
                )
            )
            readers += [asyncio.create_task(_read(servers, run, i)) for i, run in enumerate(runs)]
            await asyncio.sleep(1)
            # The oldest process stops (SIGTERM) with its runs going; a new one takes its place.
            leaving = servers[round_]
            leaving.process.send_signal(signal.SIGTERM)
            servers.append(await asyncio.to_thread(spawn, **settings))
            assert await asyncio.to_thread(leaving.process.wait, 30) in (0, -signal.SIGTERM)
        return await asyncio.gather(*readers)

    streams = asyncio.run(main())
    assert len(streams) == 3 * per_round
    for events in streams:
        check_exact(events)
        assert events[-1].data["status"] == "success", events[-3:]
    handed = [e for events in streams for e in events if e.name == "run.attempt"]
    assert handed, "no run was left running by a stopping process"
    assert {e.data["reason"] for e in handed} == {"handed_over"}
    for server in servers[:3]:
        assert "Traceback" not in server.output(), server.output()


def test_the_page_shows_the_attempt_and_strikes_what_was_dropped(
    spawn: Spawn, browser: Browser
) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a:
        run_id = on_a.post("/runs", json={"input": LONG}).json()["run_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The page follows the run from b, which serves it from the shared log.
        page.goto(f"{b.url}/?run={run_id}")
        page.wait_for_function("document.querySelectorAll('#tokens [data-message]').length > 0")
        page.wait_for_function(
            "document.querySelector('#tokens').textContent.split(' ').length > 20"
        )
        expect(page.locator("#attempt")).to_be_hidden()
        a.process.kill()
        expect(page.locator("#attempt")).to_have_text("attempt 2 · process lost", timeout=30_000)
        expect(page.locator("#run-status")).to_have_text("success", timeout=60_000)
        dropped = page.locator("#tokens .dropped")
        expect(dropped).to_have_count(1)
        kept = page.locator("#tokens [data-message]:not(.dropped)")
        expect(kept).to_have_count(1)
        with client(b) as on_b:
            answer = on_b.get(f"/runs/{run_id}").json()
            thread = on_b.get(f"/threads/{answer['thread_id']}/state").json()
        # The struck text is the start of the answer; the one left standing is the answer.
        assert kept.text_content() == thread["values"]["answer"]
        assert thread["values"]["answer"].startswith(dropped.text_content() or "-")
        rows = page.eval_on_selector_all("#log li", "rows => rows.map(r => r.dataset.id)")
        assert rows == [f"{run_id}.{seq}" for seq in range(1, answer["events"] + 1)]
        assert errors == []
    finally:
        context.close()


def test_langgraph_s_sdk_sees_the_new_attempt_in_its_metadata(spawn: Spawn) -> None:
    from langgraph_sdk import get_sync_client

    a, b = spawn(), spawn()
    with (
        get_sync_client(url=f"{a.url}/langgraph", api_key=None) as on_a,
        get_sync_client(url=f"{b.url}/langgraph", api_key=None) as on_b,
    ):
        check_attempts_in_metadata(a, on_a, on_b)


def check_attempts_in_metadata(a: Server, on_a: Any, on_b: Any) -> None:
    thread = on_a.threads.create()
    run = on_a.runs.create(
        thread["thread_id"], "demo", input=LONG, stream_mode=["values", "messages-tuple"]
    )
    parts = []
    # Read from b from the start, through the kill of a (which runs it).
    for part in on_b.runs.join_stream(thread["thread_id"], run["run_id"]):
        parts.append(part)
        if part.event == "messages" and len(parts) == 40:
            a.process.kill()
    metadata = [part.data for part in parts if part.event == "metadata"]
    assert metadata == [
        {"run_id": run["run_id"], "attempt": 1},
        {"run_id": run["run_id"], "attempt": 2},
    ]
    ids = [part.id for part in parts if part.id]
    assert len(ids) == len(set(ids))
    assert "error" not in [part.event for part in parts]
    final = on_b.threads.get_state(thread["thread_id"])["values"]
    last_values = [part.data for part in parts if part.event == "values"][-1]
    assert last_values == final and final["answer"].startswith("On durable runs")
    assert on_b.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"


def test_ok_with_check_db_says_which_store_does_not_answer(
    spawn: Spawn, private_redis: RedisServer
) -> None:
    """LangGraph's `/ok?check_db=1`, what its deployments probe: both stores are asked."""
    gateway = spawn()
    ok = httpx.get(f"{gateway.url}/langgraph/ok", params={"check_db": 1}, timeout=10)
    assert ok.status_code == 200
    assert ok.json() == {
        "ok": True,
        "services": {"event_store": "healthy", "checkpointer": "healthy"},
    }
    unchecked = httpx.get(f"{gateway.url}/langgraph/ok", timeout=10).json()
    assert unchecked == {
        "ok": True,
        "services": {"event_store": "skipped", "checkpointer": "skipped"},
    }
    private_redis.stop()
    down = httpx.get(f"{gateway.url}/langgraph/ok", params={"check_db": 1}, timeout=30)
    assert down.status_code == 500
    assert down.json() == {
        "ok": False,
        "services": {"event_store": "unhealthy", "checkpointer": "healthy"},
    }
    # The liveness probe is not this one: the process itself is fine.
    assert httpx.get(f"{gateway.url}/healthz", timeout=10).status_code == 200
