"""Two gateway processes over a real Redis Cluster of three masters."""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PostgresServer, RedisClusterServers, Spawn
from conftest import client_for as client
from sse import FAST, BackgroundReader, read_events, start_run, wait_status

APPROVE = {**FAST, "topic": "clusters", "approve": True}


@pytest.fixture
def spawn(
    spawn: Spawn, redis_cluster: RedisClusterServers, postgres_server: PostgresServer
) -> Spawn:
    return functools.partial(spawn, store_url=redis_cluster.url, checkpointer=postgres_server.url)


def test_runs_spread_over_every_master_and_resume_on_either_process(
    spawn: Spawn, redis_cluster: RedisClusterServers
) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a, client(b) as on_b:
        run_ids = [start_run(on_a, tokens=30, token_delay=0.02) for _ in range(6)]
        for run_id in run_ids:
            first = read_events(on_a, f"/runs/{run_id}/stream", limit=5)
            rest = read_events(
                on_b, f"/runs/{run_id}/stream", headers={"Last-Event-ID": first[-1].id}
            )
            received = first + rest
            assert [e.seq for e in received] == list(range(1, len(received) + 1))
            assert rest[-1].name == "run.end" and rest[-1].data["status"] == "success"
    # A run's keys share its hash tag, so each run lives whole on one master.
    holding = [
        set(
            subprocess.run(
                ["redis-cli", "-p", str(node.port), "--scan", "--pattern", "sse-gateway:run:*"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.split()
        )
        for node in redis_cluster.nodes
    ]
    for run_id in run_ids:
        keys = {f"sse-gateway:run:{{{run_id}}}", f"sse-gateway:run:{{{run_id}}}:log"}
        assert sum(keys <= on_node for on_node in holding) == 1, run_id


def test_cancel_on_one_process_stops_a_run_on_the_other(spawn: Spawn) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a, client(b) as on_b:
        run_ids = [start_run(on_a, delay=10) for _ in range(3)]
        for run_id in run_ids:
            wait_status(on_b, run_id, "running")
            assert on_b.post(f"/runs/{run_id}/cancel").status_code == 202
        for run_id in run_ids:
            events = read_events(on_b, f"/runs/{run_id}/stream", timeout=10)
            assert events[-1].name == "run.end" and events[-1].data["status"] == "cancelled"


def test_a_thread_paused_on_one_process_is_resumed_on_the_other(spawn: Spawn) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a, client(b) as on_b:
        thread_id = on_a.post("/threads", json={}).json()["thread_id"]
        created = on_a.post(f"/threads/{thread_id}/runs", json={"input": APPROVE})
        paused = read_events(on_a, created.json()["stream_url"])
        assert paused[-1].data["status"] == "interrupted"
        assert on_b.get(f"/threads/{thread_id}").json()["status"] == "interrupted"
        resumed = on_b.post(f"/threads/{thread_id}/runs", json={"command": {"resume": True}})
        assert resumed.status_code == 201, resumed.text
        events = read_events(on_a, resumed.json()["stream_url"])
        assert events[-1].data["status"] == "success"
        history = on_a.get(f"/threads/{thread_id}/runs").json()
        assert [r["status"] for r in history] == ["success", "interrupted"]


def test_a_killed_process_s_runs_end_as_worker_lost_by_the_other(spawn: Spawn) -> None:
    a, b = spawn(run_lease_seconds=1.5), spawn(run_lease_seconds=1.5)
    with client(a) as on_a, client(b) as on_b:
        run_ids = [start_run(on_a, delay=10) for _ in range(4)]
        readers = [BackgroundReader(on_b, f"/runs/{run_id}/stream") for run_id in run_ids]
        for reader in readers:
            reader.wait_for(2)
        killed = time.monotonic()
        a.process.kill()
        for run_id in run_ids:
            wait_status(on_b, run_id, "error", timeout=10)
        assert time.monotonic() - killed < 1.5 * 3
        for reader in readers:
            assert reader.finished(10)
    for reader in readers:
        assert [e.name for e in reader.events[-2:]] == ["run.error", "run.end"]
        assert reader.events[-2].data["error"]["type"] == "WorkerLost"
        assert [e.seq for e in reader.events] == list(range(1, len(reader.events) + 1))


def test_after_a_run_s_slot_moves_its_readers_and_its_cancel_follow_it(
    spawn: Spawn, redis_cluster: RedisClusterServers
) -> None:
    a, b = spawn(), spawn()
    with client(a) as on_a, client(b) as on_b:
        run_id = start_run(on_a, delay=10)
        wait_status(on_b, run_id, "running")
        reader = BackgroundReader(on_b, f"/runs/{run_id}/stream")
        reader.wait_for(2)
        channels = [f"sse-gateway:run:{{{run_id}}}:{kind}" for kind in ("appended", "control")]
        slot, source = redis_cluster.owner(channels[0])
        assert [redis_cluster.listeners(source, c) for c in channels] == [1, 1]
        target = (source + 1) % len(redis_cluster.nodes)
        redis_cluster.move_slot(slot, source, target)

        # The node that served the slot let go of its listeners; they listen on the new one:
        # b for the run's appends (its reader), a for the run's control (the cancel below).
        deadline = time.monotonic() + 5
        while [redis_cluster.listeners(target, c) for c in channels] != [1, 1]:
            assert time.monotonic() < deadline, "nobody listens where the slot went"
            time.sleep(0.05)
        assert on_b.post(f"/runs/{run_id}/cancel").status_code == 202
        assert reader.finished(10)
    received = reader.events
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    assert received[-1].name == "run.end" and received[-1].data["status"] == "cancelled"


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[RedisClusterServers]:
    """A cluster of its own, each master with a replica, that notices a failure in 1 s."""
    cluster = RedisClusterServers(tmp_path, replicas=1, node_timeout_ms=1000)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_after_a_master_fails_its_replica_serves_the_run_s_readers_and_cancel(
    spawn: Spawn, replicated: RedisClusterServers
) -> None:
    a, b = spawn(store_url=replicated.url), spawn(store_url=replicated.url)
    with client(a) as on_a, client(b) as on_b:
        run_id = start_run(on_a, delay=10)
        wait_status(on_b, run_id, "running")
        reader = BackgroundReader(on_b, f"/runs/{run_id}/stream")
        reader.wait_for(2)
        channels = [f"sse-gateway:run:{{{run_id}}}:{kind}" for kind in ("appended", "control")]
        _, master = replicated.owner(channels[0])
        assert [replicated.listeners(master, c) for c in channels] == [1, 1]
        replicated.kill(master)

        # The replica is promoted, and the processes listen on it once they see it serve.
        deadline = time.monotonic() + 20
        while True:
            _, serving = replicated.owner(channels[0])
            if serving != master and [replicated.listeners(serving, c) for c in channels] == [1, 1]:
                break
            assert time.monotonic() < deadline, "nobody listens on the promoted replica"
            time.sleep(0.1)
        assert on_b.post(f"/runs/{run_id}/cancel").status_code == 202
        assert reader.finished(15)
    received = reader.events
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    assert received[-1].name == "run.end" and received[-1].data["status"] == "cancelled"
