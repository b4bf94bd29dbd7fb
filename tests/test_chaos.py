"""Chaos under load: three gateway processes over one Redis, hundreds of streams whose clients
reconnect to another process whenever they are cut, through a Redis restart or a kill -9.

Sized for a 2-core machine: 300 runs of about 5 s each, every one followed by its own client.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RedisServer, Server, start_server

from bench.chaos import Chaos, Follower, check_streams, ends, logs_agree, run_load

STREAMS = 300
LEASE = 3.0
# About 5 s per run: plan 1 s, research 2 s, merge and lookup 1 s, 20 tokens 1 s.
RUN_INPUT = {"delay": 1, "tokens": 150, "token_delay": 0.007}
DEADLINE_SECONDS = 120


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


async def _run_load(servers: list[Server], chaos: Chaos) -> list[Follower]:
    urls = [srv.url for srv in servers]
    return await run_load(urls, chaos, STREAMS, RUN_INPUT, DEADLINE_SECONDS)


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
    problems = check_streams(followers) + logs_agree(private_redis.url, followers)
    ended = ends(followers)
    reconnects = sum(f.connections - 1 for f in followers)
    print(f"\nredis restart: {dict(ended)}; {reconnects} reconnects; problems {dict(problems)}")
    assert not problems
    # Every run was alive and progressing: none may end as lost, or cancelled.
    assert ended == {"success": STREAMS}


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
    problems = check_streams(followers) + logs_agree(private_redis.url, followers)
    ended = ends(followers)
    print(f"\nkill -9: {dict(ended)}; problems {dict(problems)}")
    assert not problems
    survivors = [f for f in followers if f.owner != 0]
    assert ends(survivors) == {"success": len(survivors)}
    victims = [f for f in followers if f.owner == 0]
    assert ends(victims) == {"error (WorkerLost)": len(victims)}
    # Ended by another process, not left to hang: the bound only catches a victim ended after
    # many leases (or never); how soon after the kill they end is a figure of `make bench`.
    delays = [f.events[-1].data["ts"] / 1000 - killed_at[0] for f in victims]
    print(f"kill -9 → run.end: {min(delays):.2f} to {max(delays):.2f} s, lease {LEASE} s")
    assert max(delays) < 10 * LEASE
