"""Chaos under load: three gateway processes over one Redis, hundreds of streams whose clients
reconnect to another process whenever they are cut, through a Redis restart or a kill -9.

Sized for a 2-core machine: 300 runs of about 5 s each, every one followed by its own client.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
from conftest import RedisServer, Server, start_server
from httpx_sse import aconnect_sse
from sse import Received

STREAMS = 300
LEASE = 3.0
# About 5 s per run: plan 1 s, research 2 s, merge and lookup 1 s, 20 tokens 1 s.
RUN_INPUT = {"delay": 1, "tokens": 150, "token_delay": 0.007}
DEADLINE_SECONDS = 120


@dataclass
class Follower:
    """One client: starts a run on a process, then reads it to its end, cutting its own
    connection at random and reconnecting elsewhere with Last-Event-ID."""

    index: int
    owner: int
    run_id: str = ""
    events: list[Received] = field(default_factory=list)
    connections: int = 0


@pytest.fixture
def gateways(tmp_path: Path, private_redis: RedisServer) -> Iterator[list[Server]]:
    servers = [
        start_server(
            tmp_path, store_url=private_redis.url, run_lease_seconds=LEASE, heartbeat_seconds=1
        )
        for _ in range(3)
    ]
    yield servers
    for srv in servers:
        srv.stop(signal.SIGKILL)


def _clients(servers: list[Server]) -> list[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(30, connect=5)
    return [httpx.AsyncClient(base_url=s.url, limits=limits, timeout=timeout) for s in servers]


async def _follow(
    follower: Follower, clients: list[httpx.AsyncClient], dead: set[int], rng: random.Random
) -> None:
    created = await clients[follower.owner].post("/runs", json={"input": RUN_INPUT})
    assert created.status_code == 201, created.text
    follower.run_id = created.json()["run_id"]
    process, cuts = follower.owner, rng.randint(1, 3)
    while not follower.events or follower.events[-1].name != "run.end":
        assert follower.connections < 40, f"run {follower.run_id}: too many reconnects"
        follower.connections += 1
        headers = {"Last-Event-ID": follower.events[-1].id} if follower.events else {}
        cut_at = len(follower.events) + rng.randint(2, 25) if cuts else None
        try:
            url = f"/runs/{follower.run_id}/stream"
            async with aconnect_sse(clients[process], "GET", url, headers=headers) as source:
                if source.response.status_code != 200:
                    await asyncio.sleep(0.5)  # 503 while Redis restarts: Retry-After
                    continue
                async for sse in source.aiter_sse():
                    if sse.data:
                        follower.events.append(Received(sse.event, sse.id, json.loads(sse.data)))
                    if sse.event == "run.end" or (cut_at and len(follower.events) >= cut_at):
                        break
        except httpx.HTTPError:
            await asyncio.sleep(0.1)  # a killed process: its connections break
        if cut_at and len(follower.events) >= cut_at:
            cuts -= 1
        process = rng.choice([p for p in range(len(clients)) if p != process and p not in dead])


async def _run_load(servers: list[Server], chaos: object) -> list[Follower]:
    rng = random.Random(12)
    clients = _clients(servers)
    dead: set[int] = set()
    followers = [Follower(i, owner=i % len(servers)) for i in range(STREAMS)]
    try:
        load = asyncio.gather(*(_follow(f, clients, dead, rng) for f in followers))
        await asyncio.wait_for(asyncio.gather(load, chaos(dead)), DEADLINE_SECONDS)  # type: ignore[operator]
    finally:
        for c in clients:
            await c.aclose()
    return followers


def _check_streams(followers: list[Follower]) -> Counter[str]:
    """Every stream got every event of its run exactly once, ending with one run.end."""
    problems: Counter[str] = Counter()
    for f in followers:
        seqs = [e.seq for e in f.events]
        if seqs != list(range(1, len(seqs) + 1)):
            problems["streams with a lost or repeated event"] += 1
        names = [e.name for e in f.events]
        if names.count("run.end") != 1 or names[-1] != "run.end":
            problems["streams without exactly one final run.end"] += 1
    return problems


def _logs_agree(redis: RedisServer, followers: list[Follower]) -> Counter[str]:
    """Each run's log, as Redis holds it, is what its client received: one run.end, last."""
    problems: Counter[str] = Counter()
    client = sync_redis.Redis.from_url(redis.url)
    try:
        logs = {key.decode(): key for key in client.keys("sse-gateway:*:log")}
        for f in followers:
            (key,) = [k for name, k in logs.items() if f.run_id in name]
            lines = [fields[b"f"].decode().split("\n") for _, fields in client.xrange(key)]
            if [line[0] for line in lines].count("event: run.end") != 1:
                problems["logs with more or less than one run.end"] += 1
            if [line[1].removeprefix("id: ") for line in lines] != [e.id for e in f.events]:
                problems["logs that differ from what a client received"] += 1
    finally:
        client.close()
    return problems


def _ends(followers: list[Follower]) -> Counter[str]:
    ends: Counter[str] = Counter()
    for f in followers:
        errors = [e.data["error"]["type"] for e in f.events if e.name == "run.error"]
        ends[f.events[-1].data["status"] + (f" ({errors[0]})" if errors else "")] += 1
    return ends


async def test_a_redis_restart_under_load_loses_and_repeats_nothing(
    gateways: list[Server], private_redis: RedisServer
) -> None:
    async def restart_redis(dead: set[int]) -> None:
        # Down for most of a lease (and well within the store's retry window).
        await asyncio.sleep(2)
        private_redis.stop()
        await asyncio.sleep(2.5)
        private_redis.start()

    followers = await _run_load(gateways, restart_redis)
    problems = _check_streams(followers) + _logs_agree(private_redis, followers)
    ends = _ends(followers)
    reconnects = sum(f.connections - 1 for f in followers)
    print(f"\nredis restart: {dict(ends)}; {reconnects} reconnects; problems {dict(problems)}")
    assert not problems
    # Every run was alive and progressing: none may end as lost, or cancelled.
    assert ends == {"success": STREAMS}


async def test_a_killed_process_s_runs_end_lost_and_no_other_run_does(
    gateways: list[Server], private_redis: RedisServer
) -> None:
    killed_at: list[float] = []

    async def kill_one(dead: set[int]) -> None:
        await asyncio.sleep(2)
        dead.add(0)
        killed_at.append(time.time())
        gateways[0].process.kill()

    followers = await _run_load(gateways, kill_one)
    problems = _check_streams(followers) + _logs_agree(private_redis, followers)
    ends = _ends(followers)
    print(f"\nkill -9: {dict(ends)}; problems {dict(problems)}")
    assert not problems
    survivors = [f for f in followers if f.owner != 0]
    assert _ends(survivors) == {"success": len(survivors)}
    victims = [f for f in followers if f.owner == 0]
    assert _ends(victims) == {"error (WorkerLost)": len(victims)}
    # Ended by another process within the lease (give or take its watch interval).
    delays = [f.events[-1].data["ts"] / 1000 - killed_at[0] for f in victims]
    print(f"kill -9 → run.end: {min(delays):.2f} to {max(delays):.2f} s, lease {LEASE} s")
    assert max(delays) < 2 * LEASE
