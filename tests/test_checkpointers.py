"""Where threads keep their checkpoints: SQLite across a restart, PostgreSQL shared by two
processes over Redis, and the combinations refused at start-up."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import (
    ROOT,
    TESTS,
    PostgresServer,
    RedisServer,
    Spawn,
    free_port,
)
from conftest import client_for as client
from langgraph.checkpoint.postgres.base import BasePostgresSaver
from sse import FAST, read_events

APPROVE = {**FAST, "topic": "restarts", "approve": True}


def pause_on(c: httpx.Client, thread_id: str) -> dict:
    created = c.post(f"/threads/{thread_id}/runs", json={"input": APPROVE}, timeout=20)
    assert created.status_code == 201, created.text
    events = read_events(c, created.json()["stream_url"])
    assert events[-1].data["status"] == "interrupted"
    return events[-2].data["interrupts"][0]


def test_sqlite_keeps_a_paused_thread_across_a_restart(spawn: Spawn, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/threads.db"  # SQLAlchemy's form: the path is absolute here
    first = spawn(checkpointer=url)
    with client(first) as c:
        assert c.post("/threads", json={"thread_id": "kept"}).status_code == 201
        pending = pause_on(c, "kept")
    assert first.stop() in (0, -signal.SIGTERM)
    again = spawn(checkpointer=url)
    with client(again) as c:
        thread = c.get("/threads/kept").json()
        assert thread["status"] == "interrupted"
        assert [i["id"] for i in thread["interrupts"]] == [pending["id"]]
        resumed = c.post("/threads/kept/runs", json={"command": {"resume": True}})
        assert resumed.status_code == 201, resumed.text
        events = read_events(c, resumed.json()["stream_url"])
    end = events[-1].data
    assert end["status"] == "success"
    assert [m["content"] for m in end["output"]["messages"]] == [
        "restarts",
        "On restarts: Server-sent events keep one",
    ]
    assert end["output"]["facts"].startswith("restarts: text/event-stream")


def test_postgres_threads_move_between_processes(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    a, b = spawn(**shared), spawn(**shared)
    with client(a) as on_a, client(b) as on_b:
        thread_id = on_a.post("/threads", json={}).json()["thread_id"]
        pending = pause_on(on_a, thread_id)
        assert on_b.get(f"/threads/{thread_id}").json()["interrupts"][0]["id"] == pending["id"]
        resumed = on_b.post(f"/threads/{thread_id}/runs", json={"command": {"resume": False}})
        events = read_events(on_a, resumed.json()["stream_url"])
        assert events[-1].data["status"] == "success"
        assert "not approved" in events[-1].data["output"]["facts"]
        assert [r["status"] for r in on_a.get(f"/threads/{thread_id}/runs").json()] == [
            "success",
            "interrupted",
        ]


def test_only_one_of_ten_racing_runs_takes_an_idle_thread(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    servers = [spawn(**shared), spawn(**shared)]
    with client(servers[0]) as c:
        thread_id = c.post("/threads", json={}).json()["thread_id"]

    def post(i: int) -> int:
        with client(servers[i % 2]) as c:
            body = {"input": {**FAST, "delay": 0.3}}
            return c.post(f"/threads/{thread_id}/runs", json=body).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(post, range(10)))
    assert statuses == [201] + [409] * 9
    with client(servers[1]) as c:
        assert len(c.get(f"/threads/{thread_id}/runs").json()) == 1


def _serve(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(TESTS), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("checkpointer", ["memory://", "sqlite:///threads.db"])
def test_a_one_process_checkpointer_behind_redis_is_refused(
    redis_server: RedisServer, checkpointer: str
) -> None:
    done = _serve(GATEWAY_STORE_URL=redis_server.url, GATEWAY_CHECKPOINTER=checkpointer)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: GATEWAY_CHECKPOINTER {checkpointer!r} keeps threads in one process, but "
        "GATEWAY_STORE_URL is shared by several: set "
        "GATEWAY_CHECKPOINTER=postgresql://user:pass@host:port/db"
    ]


@pytest.mark.parametrize(
    ("checkpointer", "message"),
    [
        ("mongodb://x", "unsupported (use memory://, sqlite:///file.db"),
        ("sqlite://nope.db", "expected sqlite:///relative/file.db"),
        ("postgresql://nobody:secret@127.0.0.1:1/db", "cannot reach PostgreSQL at"),
    ],
)
def test_a_bad_checkpointer_is_one_clear_line(checkpointer: str, message: str) -> None:
    done = _serve(GATEWAY_CHECKPOINTER=checkpointer)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert "secret" not in line


def test_queued_and_interrupting_runs_take_turns_across_processes(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    a, b = spawn(**shared), spawn(**shared)
    with client(a) as on_a, client(b) as on_b:
        thread_id = on_a.post("/threads", json={}).json()["thread_id"]
        runs = f"/threads/{thread_id}/runs"
        first = on_a.post(runs, json={"input": {**FAST, "delay": 0.3}}).json()
        queued = on_b.post(runs, json={"input": FAST, "multitask_strategy": "enqueue"}).json()
        ends = [read_events(on_b, r["stream_url"])[-1].data for r in (first, queued)]
        assert [e["status"] for e in ends] == ["success", "success"]
        assert ends[0]["ts"] <= read_events(on_a, queued["stream_url"])[0].data["ts"]
        slow = on_a.post(runs, json={"input": {**FAST, "delay": 3}}).json()
        read_events(on_b, slow["stream_url"], limit=2)
        cutting = on_b.post(runs, json={"input": FAST, "multitask_strategy": "interrupt"}).json()
        assert read_events(on_b, slow["stream_url"])[-1].data["status"] == "cancelled"
        assert read_events(on_a, cutting["stream_url"])[-1].data["status"] == "success"


def _fresh_database(postgres: PostgresServer) -> str:
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres.url.rpartition('/')[0]}/{name}"


def _wait_for_setups(url: str, count: int, timeout: float = 60) -> None:
    """Until `count` sessions wait to set up: blocked on a lock, or polling for the gateway's
    setup lock (waiting without holding a snapshot)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        deadline = time.monotonic() + timeout
        while True:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND (wait_event_type = 'Lock' OR query LIKE '%pg_try_advisory_lock%') "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if row is not None and row[0] >= count:
                return
            assert time.monotonic() < deadline, f"{row} sessions waiting, wanted {count}"
            time.sleep(0.1)


def test_gateways_starting_together_on_an_empty_database_all_serve(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    url = _fresh_database(postgres_server)
    # Three processes starting at once on two busy cores: more time than one start needs.
    shared = {"store_url": redis_server.url, "checkpointer": url, "start_timeout": 90}
    with psycopg.connect(url) as holder:
        # The migrations table, empty, and locked until all three have reached it: they then
        # set up at the same moment, as replicas started together do on their first start.
        holder.execute(BasePostgresSaver.MIGRATIONS[0])
        holder.commit()
        holder.execute("LOCK TABLE checkpoint_migrations IN ACCESS EXCLUSIVE MODE")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            starting = [pool.submit(spawn, **shared) for _ in range(3)]
            _wait_for_setups(url, 3)
            holder.commit()
            servers = [future.result() for future in starting]
    for srv in servers:
        with client(srv) as c:
            created = c.post("/threads", json={})
            assert created.status_code == 201, created.text
            run = c.post(f"/threads/{created.json()['thread_id']}/runs", json={"input": FAST})
            assert read_events(c, run.json()["stream_url"])[-1].data["status"] == "success"
