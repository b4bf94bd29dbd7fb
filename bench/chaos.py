"""Chaos under load, for the tests and the bench alike: gateway processes over one Redis,
hundreds of clients each following its own run and reconnecting to another process with
Last-Event-ID whenever they are cut (by themselves at random, or by a process that dies),
while something goes wrong: a Redis restart, a kill -9, a rolling restart.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis
from httpx_sse import aconnect_sse

# Gets the set to add killed (or stopping) processes to, so that clients read elsewhere.
Chaos = Callable[[set[int]], Awaitable[None]]


@dataclass
class Event:
    name: str
    id: str
    data: dict[str, Any]

    @property
    def seq(self) -> int:
        return self.data["seq"]


@dataclass
class Follower:
    """One client: starts a run on a process, then reads it to its end, cutting its own
    connection at random and reconnecting elsewhere with Last-Event-ID."""

    index: int
    owner: int
    run_id: str = ""
    events: list[Event] = field(default_factory=list)
    connections: int = 0


def _clients(urls: list[str]) -> list[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(30, connect=5, pool=None)
    return [httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) for url in urls]


def _elsewhere(process: int, count: int, dead: set[int], rng: random.Random) -> int:
    """Another live process, else any live one (this one, with only two processes)."""
    live = [p for p in range(count) if p not in dead]
    return rng.choice([p for p in live if p != process] or live or [process])


async def _start(
    follower: Follower,
    run_input: dict[str, Any],
    clients: list[httpx.AsyncClient],
    dead: set[int],
    rng: random.Random,
) -> None:
    for _ in range(20):
        try:
            created = await clients[follower.owner].post("/runs", json={"input": run_input})
        except httpx.TransportError:
            created = None
        if created is not None and created.status_code == 201:
            follower.run_id = created.json()["run_id"]
            return
        if created is not None and created.status_code != 503:
            raise RuntimeError(f"starting a run: {created.status_code} {created.text}")
        # A process stopping (503 draining) or gone: the run starts on another, its owner.
        await asyncio.sleep(0.2)
        follower.owner = _elsewhere(follower.owner, len(clients), dead, rng)
    raise RuntimeError("starting a run: no process would take it")


async def _follow(
    follower: Follower,
    run_input: dict[str, Any],
    clients: list[httpx.AsyncClient],
    dead: set[int],
    rng: random.Random,
) -> None:
    await _start(follower, run_input, clients, dead, rng)
    process, cuts = follower.owner, rng.randint(1, 3)
    while not follower.events or follower.events[-1].name != "run.end":
        if follower.connections >= 40:
            raise RuntimeError(f"run {follower.run_id}: too many reconnects")
        if process in dead:
            # Stopping or stopped (a restart reuses its port later): read from another.
            process = _elsewhere(process, len(clients), dead, rng)
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
                        follower.events.append(Event(sse.event, sse.id, json.loads(sse.data)))
                    if sse.event == "run.end" or (cut_at and len(follower.events) >= cut_at):
                        break
        except httpx.HTTPError:
            await asyncio.sleep(0.1)  # a killed process: its connections break
        if cut_at and len(follower.events) >= cut_at:
            cuts -= 1
        process = _elsewhere(process, len(clients), dead, rng)


async def run_load(
    urls: list[str], chaos: Chaos, streams: int, run_input: dict[str, Any], deadline: float
) -> list[Follower]:
    """`streams` runs spread over the processes, each followed to its end, while `chaos`
    does its worst; raises TimeoutError if that takes longer than `deadline` seconds."""
    rng = random.Random(12)
    clients = _clients(urls)
    dead: set[int] = set()
    followers = [Follower(i, owner=i % len(urls)) for i in range(streams)]
    try:
        load = asyncio.gather(*(_follow(f, run_input, clients, dead, rng) for f in followers))
        await asyncio.wait_for(asyncio.gather(load, chaos(dead)), deadline)
    finally:
        for client in clients:
            await client.aclose()
    return followers


def check_streams(followers: list[Follower]) -> Counter[str]:
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


def logs_agree(redis_url: str, followers: list[Follower]) -> Counter[str]:
    """Each run's log, as Redis holds it, is what its client received: one run.end, last."""
    problems: Counter[str] = Counter()
    client = redis.Redis.from_url(redis_url)
    try:
        for f in followers:
            entries = client.xrange(f"sse-gateway:run:{{{f.run_id}}}:log")
            lines = [fields[b"f"].decode().split("\n") for _, fields in entries]
            if [line[0] for line in lines].count("event: run.end") != 1:
                problems["logs with more or less than one run.end"] += 1
            if [line[1].removeprefix("id: ") for line in lines] != [e.id for e in f.events]:
                problems["logs that differ from what a client received"] += 1
    finally:
        client.close()
    return problems


def ends(followers: list[Follower]) -> Counter[str]:
    """How the runs ended: status, and the error's type when there was one."""
    counted: Counter[str] = Counter()
    for f in followers:
        errors = [e.data["error"]["type"] for e in f.events if e.name == "run.error"]
        counted[f.events[-1].data["status"] + (f" ({errors[0]})" if errors else "")] += 1
    return counted
