"""The six scenarios. Each returns rows (one per contender) for its table and JSON."""

from __future__ import annotations

import asyncio
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import chaos as chaos_load
from bench import servers
from bench.client import StreamResult, hold_stream, open_stream, post_json
from bench.graphs import graph
from bench.servers import Contender

Row = dict[str, Any]
# Token events as the gateway names them, and as the naive pattern does (LangChain's name).
# (And LangGraph's thread protocol's: its messages channel.)
TOKEN = (b"token", b"on_chat_model_stream", b"messages")


@dataclass
class Sizes:
    tokens: int = 5000
    naive_tokens: int = 1000
    first_event_runs: int = 50
    concurrency: tuple[int, ...] = (100, 500, 1000)
    fanout: int = 1000
    idle: int = 2000
    idle_redis: int = 10_000
    chaos_streams: int = 300
    scaleout_runs: int = 600
    idle_redis_watch_seconds: float = 30
    replay_events: int = 10_000
    repeats: int = 3
    idle_settle_seconds: float = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            tokens=2000,
            naive_tokens=100,
            first_event_runs=8,
            concurrency=(50,),
            fanout=100,
            idle=100,
            idle_redis=300,
            chaos_streams=60,
            scaleout_runs=60,
            idle_redis_watch_seconds=5,
            replay_events=2000,
            repeats=1,
            idle_settle_seconds=0.5,
        )


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# A run of about 50 events over about 3 s: run.start, 2 node.start/end pairs, 45 tokens, llm.end,
# run.end.
PACED = {"tokens": 45, "token_delay": 0.066}


async def in_process_run(input_: dict[str, Any]) -> tuple[int, float, float]:
    """(events, seconds to the first event, seconds in all) of astream_events, no HTTP."""
    started = time.perf_counter()
    first = None
    count = 0
    async for _ in graph.astream_events(input_, version="v2"):
        count += 1
        if first is None:
            first = time.perf_counter() - started
    return count, first or 0.0, time.perf_counter() - started


async def stream(contender: Contender, input_: dict[str, Any], **options: Any) -> StreamResult:
    request = contender.request(input_)
    start = request.pop("start", None)
    if start is None:
        return await open_stream(contender.port, **request, **options)
    # LangGraph's thread protocol: the stream first, then the command that starts the run.
    reading = asyncio.ensure_future(open_stream(contender.port, **request, **options))
    await post_json(contender.port, *start)
    return await reading


async def overhead(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """1. One run streaming N tokens: events/s over HTTP ÷ events/s in-process."""
    floors = [await in_process_run({"tokens": sizes.tokens}) for _ in range(sizes.repeats)]
    floor = statistics.median(events / seconds for events, _, seconds in floors)
    rows: list[Row] = [
        {
            "contender": "in-process astream_events (floor)",
            "tokens": sizes.tokens,
            "events/s": round(floor),
            "ratio": 1.0,
        }
    ]
    for contender in contenders:
        tokens = sizes.naive_tokens if contender.kind == "naive" else sizes.tokens
        results = [await stream(contender, {"tokens": tokens}) for _ in range(sizes.repeats)]
        ok = [r for r in results if r.error is None and r.status == 200]
        if not ok:
            rows.append({"contender": contender.name, "error": results[0].error})
            continue
        rate = statistics.median(r.events / r.finished for r in ok if r.finished)
        token_bytes = [b for r in ok for b in r.token_bytes]
        rows.append(
            {
                "contender": contender.name,
                "tokens": tokens,
                "events/s": round(rate),
                "ratio": round(rate / floor, 2),
                "bytes/event": round(sum(r.bytes for r in ok) / sum(r.events for r in ok)),
                "bytes/token event": round(statistics.mean(token_bytes)) if token_bytes else None,
            }
        )
    return rows


async def first_event(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """2. Sequential one-shot runs of the two-node graph: request → first graph event."""
    floor = [(await in_process_run({"tokens": 1}))[1] * 1000 for _ in range(sizes.first_event_runs)]
    rows: list[Row] = [
        {
            "contender": "in-process astream_events (floor)",
            "p50 ms": round(pct(floor, 50), 2),
            "p95 ms": round(pct(floor, 95), 2),
        }
    ]
    for contender in contenders:
        if contender.kind == "ceiling":
            continue
        times = []
        for _ in range(sizes.first_event_runs):
            result = await stream(contender, {"tokens": 1})
            if result.first_event is not None:
                times.append(result.first_event * 1000)
        rows.append(
            {
                "contender": contender.name,
                "runs": len(times),
                "p50 ms": _round(pct(times, 50)),
                "p95 ms": _round(pct(times, 95)),
            }
        )
    return rows


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class Sampler:
    """Peak RSS of a contender's processes while a scenario runs."""

    def __init__(self, contender: Contender) -> None:
        self.contender = contender
        self.peak = contender.rss()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.contender.rss())
            await asyncio.sleep(0.1)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()


async def concurrency(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """3. N concurrent streams, each its own run of ~50 events over ~3 s."""
    rows: list[Row] = []
    for n in sizes.concurrency:
        started = time.perf_counter()
        floor = await asyncio.gather(*(in_process_run(PACED) for _ in range(n)))
        durations = [seconds for _, _, seconds in floor]
        floor_p99 = pct(durations, 99) or 0
        rows.append(
            {
                "streams": n,
                "contender": "in-process, gathered (floor)",
                "completed": n,
                "errors": 0,
                "run p50 s": _round(pct(durations, 50)),
                "run p99 s": _round(floor_p99),
                "wall s": round(time.perf_counter() - started, 2),
            }
        )
        for contender in contenders:
            if contender.kind == "ceiling" or contender.kind in (*servers.AGUI, *servers.AI_SDK):
                continue
            cpu = contender.cpu_seconds()
            with Sampler(contender) as sampler:
                results = await asyncio.gather(
                    *(stream(contender, PACED, latency=TOKEN, timeout=90) for _ in range(n))
                )
            completed = [
                r for r in results if r.error is None and r.status == 200 and r.events >= 45
            ]
            durations = [r.finished for r in completed if r.finished]
            latencies = [ms for r in completed for ms in r.latencies_ms]
            rows.append(
                {
                    "streams": n,
                    "contender": contender.name,
                    "completed": len(completed),
                    "errors": n - len(completed),
                    "run p50 s": _round(pct(durations, 50)),
                    "run p99 s": _round(pct(durations, 99)),
                    "p99 ÷ floor": _round((pct(durations, 99) or 0) / floor_p99)
                    if floor_p99
                    else None,
                    "latency p50 ms": _round(pct(latencies, 50), 1),
                    "latency p99 ms": _round(pct(latencies, 99), 1),
                    "server CPU s": round(contender.cpu_seconds() - cpu, 2),
                    "peak RSS MB": round(sampler.peak / 2**20),
                }
            )
    return rows


async def fanout(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """4. One run, many subscribers: delivery latency of its tokens."""
    rows: list[Row] = []
    for contender in [c for c in contenders if c.kind == "gateway"]:
        base = f"http://127.0.0.1:{contender.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            created = await client.post("/runs", json={"input": {**PACED, "pause": 2}})
            run_id = created.json()["run_id"]
        results = await asyncio.gather(
            *(
                open_stream(contender.port, f"/runs/{run_id}/stream", latency=TOKEN, timeout=60)
                for _ in range(sizes.fanout)
            )
        )
        completed = [r for r in results if r.error is None and r.status == 200]
        latencies = [ms for r in completed for ms in r.latencies_ms]
        rows.append(
            {
                "contender": contender.name,
                "subscribers": sizes.fanout,
                "completed": len(completed),
                "latency p50 ms": _round(pct(latencies, 50), 1),
                "latency p99 ms": _round(pct(latencies, 99), 1),
                "latencies": latencies,
            }
        )
    return rows


async def idle(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """5. Open streams on paused runs, heartbeats on: server memory per connection."""
    rows: list[Row] = []
    for contender in [c for c in contenders if c.kind == "gateway"]:
        for runs in (max(1, sizes.idle // 100), sizes.idle):
            base = f"http://127.0.0.1:{contender.port}"
            before = contender.rss()
            async with httpx.AsyncClient(
                base_url=base, timeout=60, limits=httpx.Limits(max_connections=50)
            ) as client:
                created = await asyncio.gather(
                    *(
                        client.post("/runs", json={"input": {"pause": 600, "tokens": 1}})
                        for _ in range(runs)
                    )
                )
                run_ids = [r.json()["run_id"] for r in created]
                after_runs = contender.rss()
                readers = [
                    asyncio.create_task(
                        open_stream(
                            contender.port, f"/runs/{run_ids[i % runs]}/stream", timeout=600
                        )
                    )
                    for i in range(sizes.idle)
                ]
                await asyncio.sleep(sizes.idle_settle_seconds + sizes.idle / 500)
                after_streams = contender.rss()
                for task in readers:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                await asyncio.gather(*(client.post(f"/runs/{rid}/cancel") for rid in run_ids))
            rows.append(
                {
                    "contender": contender.name,
                    "streams": sizes.idle,
                    "paused runs": runs,
                    "RSS per stream KB": round((after_streams - after_runs) / sizes.idle / 1024, 1),
                    "RSS per run KB": round((after_runs - before) / runs / 1024, 1),
                }
            )
            await asyncio.sleep(1)
    return rows


async def replay(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """6. Resuming a finished run of N events from the start."""
    rows: list[Row] = []
    for contender in [c for c in contenders if c.kind == "gateway"]:
        base = f"http://127.0.0.1:{contender.port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            created = await client.post(
                "/runs", json={"input": {"tokens": sizes.replay_events - 7}}
            )
            run_id = created.json()["run_id"]
            while (await client.get(f"/runs/{run_id}")).json()["status"] != "success":  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            total = (await client.get(f"/runs/{run_id}")).json()["events"]
        rates = []
        for _ in range(sizes.repeats):
            result = await open_stream(contender.port, f"/runs/{run_id}/stream")
            rates.append(result.events / (result.finished or 1))
        rows.append(
            {
                "contender": contender.name,
                "events": total,
                "events/s": round(statistics.median(rates)),
            }
        )
    return rows


async def hot_path(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """8. One run streaming N tokens from each chat model (the demo's, and LangChain's
    GenericFakeChatModel), side by side with its in-process rate, for the gateway's variants:
    what the event loop, the store and the model each cost."""
    rows: list[Row] = []
    chosen = [c for c in contenders if c.kind in ("gateway", "gateway-loop")]
    for model in ("demo", "fake"):
        input_ = {"tokens": sizes.tokens, "model": model}
        rates: dict[str, list[float]] = {"in-process astream_events (floor)": []}
        # Interleaved, so a slow moment of the machine falls on every contender alike.
        for _ in range(sizes.repeats):
            events, _, seconds = await in_process_run(input_)
            rates["in-process astream_events (floor)"].append(events / seconds)
            for contender in chosen:
                result = await stream(contender, input_)
                if result.error is None and result.finished:
                    rates.setdefault(contender.name, []).append(result.events / result.finished)
        floor = statistics.median(rates["in-process astream_events (floor)"])
        for name, values in rates.items():
            rate = statistics.median(values) if values else 0
            rows.append(
                {
                    "model": model,
                    "contender": name,
                    "events/s": round(rate),
                    "ratio": round(rate / floor, 2),
                }
            )
    return rows


def _histogram(metrics: str, name: str) -> tuple[int, dict[float, int]]:
    """(count, cumulative count by upper bound) of one histogram in Prometheus' text."""
    buckets: dict[float, int] = {}
    count = 0
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith(f"{name}_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
    return count, buckets


def _over(metrics: str, name: str, seconds: float) -> int:
    count, buckets = _histogram(metrics, name)
    return count - buckets.get(seconds, count)


def _outgoing_connections(contender: Contender) -> int:
    """The gateway's own TCP connections to others (Redis here), not its clients'."""
    total = 0
    for proc in contender.processes():
        for conn in proc.net_connections(kind="tcp"):
            if conn.raddr and conn.status == "ESTABLISHED" and conn.laddr.port != contender.port:
                total += 1
    return total


async def _create_paused_run(client: httpx.AsyncClient) -> str:
    for attempt in range(3):
        try:
            response = await client.post("/runs", json={"input": {"pause": 3600, "tokens": 1}})
            break
        except httpx.TransportError:
            # A keep-alive connection the server closed (a long pause of its loop) just as
            # the request went out on it: the request never reached the app.
            if attempt == 2:
                raise
    if response.status_code != 201:
        raise RuntimeError(f"POST /runs: {response.status_code} {response.text}")
    return response.json()["run_id"]


async def _create_paused_runs(client: httpx.AsyncClient, n: int) -> list[str]:
    run_ids: list[str] = []
    # In rounds: httpx's pool slows down with thousands of requests waiting on it.
    for start in range(0, n, 100):
        run_ids += await asyncio.gather(
            *(_create_paused_run(client) for _ in range(min(100, n - start)))
        )
    return run_ids


async def idle_redis(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """7. N open streams in one process over Redis, on N distinct paused runs and on N/100:
    Redis connections, memory per stream and per run, heartbeats' punctuality, loop stalls.
    Each row on a fresh gateway and Redis, so memory freed by one row does not hide the next's."""
    rows: list[Row] = []
    n = sizes.idle_redis
    logs = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    for runs in (n, max(1, n // 100)):
        redis = servers.RedisServer()
        contender = servers.gateway(
            "gateway (redis)", logs, store_url=redis.url, heartbeat_seconds=1, max_runs=2 * n
        )
        try:
            rows.append(await _idle_row(contender, n, runs, sizes))
        finally:
            contender.stop()
            redis.stop()
    return rows


async def _idle_row(contender: Contender, n: int, runs: int, sizes: Sizes) -> Row:
    base = f"http://127.0.0.1:{contender.port}"
    async with httpx.AsyncClient(
        base_url=base,
        timeout=httpx.Timeout(120, pool=None),
        limits=httpx.Limits(max_connections=50),
    ) as client:
        before = contender.rss()
        started = time.perf_counter()
        run_ids = await _create_paused_runs(client, runs)
        creating = time.perf_counter() - started
        await asyncio.sleep(2)
        after_runs = contender.rss()
        watch, stop, gaps = asyncio.Event(), asyncio.Event(), []
        holders = [
            asyncio.create_task(
                hold_stream(contender.port, f"/runs/{run_ids[i % runs]}/stream", watch, stop, gaps)
            )
            for i in range(n)
        ]
        await asyncio.sleep(sizes.idle_settle_seconds + n / 1000)
        opened_at = (await client.get("/metrics")).text
        after_streams = contender.rss()
        connections = _outgoing_connections(contender)
        watch.set()
        await asyncio.sleep(sizes.idle_redis_watch_seconds)
        metrics = (await client.get("/metrics")).text
        stop.set()
        held = sum(await asyncio.gather(*holders))
    stalls = _over(metrics, "gateway_event_loop_lag_seconds", 1.0) - _over(
        opened_at, "gateway_event_loop_lag_seconds", 1.0
    )
    gc_count = _histogram(metrics, "gateway_gc_pause_seconds")[0]
    return {
        "streams": n,
        "paused runs": runs,
        "runs created/s": round(runs / creating),
        "held to the end": held,
        "Redis connections": connections,
        "RSS per run KB": round((after_runs - before) / runs / 1024, 1),
        "RSS per stream KB": round((after_streams - after_runs) / n / 1024, 1),
        "heartbeat gap max s": _round(max(gaps, default=None)),
        "heartbeat gap p99 s": _round(pct(gaps, 99)),
        "loop stalls > 1 s (while held)": stalls,
        "full GCs in all (max pause s)": f"{gc_count} ({_max_bucket(metrics)})",
    }


def _max_bucket(metrics: str) -> str:
    """The smallest bound under which every full collection's pause fell."""
    count, buckets = _histogram(metrics, "gateway_gc_pause_seconds")
    for bound, below in sorted(buckets.items()):
        if below == count:
            return f"≤ {bound:g}"
    return "?"


# About 4 s per run: a 1 s pause, then 150 tokens 20 ms apart.
CHAOS_RUN = {"pause": 1, "tokens": 150, "token_delay": 0.02}
# About 23 s per run, 10 tokens a second: still going through all three restarts of a rolling
# restart (each a drain, then a new process's start), and a modest event rate for 300 runs.
ROLLING_RUN = {"pause": 1, "tokens": 220, "token_delay": 0.1}
CHAOS_LEASE = 3.0
CHAOS_DRAIN = 2.0
# (trouble, what happens: kill | redis | rolling, whether a PostgreSQL checkpointer is shared)
TROUBLES = (
    ("kill -9 of one process", "kill", False),
    ("Redis restart (2.5 s down)", "redis", False),
    ("kill -9 of one process, PostgreSQL checkpoints (runs resumed)", "kill", True),
    (
        f"rolling restart of 3 processes ({CHAOS_DRAIN:g} s drain), PostgreSQL checkpoints",
        "rolling",
        True,
    ),
    (
        f"rolling restart of 3 processes ({CHAOS_DRAIN:g} s drain), no checkpointer",
        "rolling",
        False,
    ),
)


def _striker(
    kind: str,
    gateways: list[Contender],
    redis: servers.RedisServer,
    struck_at: list[float],
    restart: Callable[[int, int], Contender],
    restarting: list[asyncio.Future[Contender]],
) -> chaos_load.Chaos:
    async def strike(dead: set[int]) -> None:
        await asyncio.sleep(2)
        if kind == "kill":
            dead.add(0)
            struck_at.append(time.time())
            gateways[0].process.kill()
        elif kind == "redis":
            redis.halt()
            await asyncio.sleep(2.5)
            redis.start()
        else:
            for i, leaving in enumerate(list(gateways)):
                # Out of the clients' choices from its drain until its successor is up.
                dead.add(i)
                struck_at.append(time.time())
                leaving.process.send_signal(signal.SIGTERM)
                # In threads: the clients' event loop goes on meanwhile.
                await asyncio.to_thread(leaving.process.wait, 60)
                # On the same port, so the clients' list stays right. Shielded: should the
                # load's deadline cancel this, the new process still gets stopped.
                starting = asyncio.ensure_future(asyncio.to_thread(restart, i, leaving.port))
                restarting.append(starting)
                gateways[i] = await asyncio.shield(starting)
                dead.discard(i)

    return strike


async def chaos(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """9. Three gateway processes over one Redis (AOF), every stream's client reconnecting to
    another process with Last-Event-ID whenever it is cut: through a kill -9 of one process,
    a Redis restart, and a rolling restart (SIGTERM of each process in turn, each replaced);
    without a checkpointer (runs of a stopped process end), and with PostgreSQL's (they go on
    elsewhere from their last checkpoint)."""
    logs = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    return [
        await _chaos_row(trouble, kind, checkpoints, sizes, logs)
        for trouble, kind, checkpoints in TROUBLES
    ]


async def _chaos_row(trouble: str, kind: str, checkpoints: bool, sizes: Sizes, logs: Path) -> Row:
    redis: servers.RedisServer | None = None
    postgres: servers.PostgresServer | None = None
    gateways: list[Contender] = []
    restarting: list[asyncio.Future[Contender]] = []
    struck_at: list[float] = []
    try:
        redis = servers.RedisServer()
        settings: dict[str, Any] = {
            "store_url": redis.url,
            "run_lease_seconds": CHAOS_LEASE,
            "heartbeat_seconds": 1,
        }
        if checkpoints:
            postgres = servers.PostgresServer()
            settings["checkpointer"] = postgres.url
        if kind == "rolling":
            settings["drain_seconds"] = CHAOS_DRAIN

        def restart(i: int, port: int) -> Contender:
            return servers.gateway(f"chaos gateway {i} (restarted)", logs, port=port, **settings)

        for i in range(3):
            gateways.append(servers.gateway(f"chaos gateway {i}", logs, **settings))
        strike = _striker(kind, gateways, redis, struck_at, restart, restarting)
        started = time.perf_counter()
        followers = await chaos_load.run_load(
            [f"http://127.0.0.1:{g.port}" for g in gateways],
            strike,
            sizes.chaos_streams,
            ROLLING_RUN if kind == "rolling" else CHAOS_RUN,
            deadline=300,
        )
        wall = time.perf_counter() - started
        problems = chaos_load.check_streams(followers) + chaos_load.logs_agree(redis.url, followers)
    finally:
        # A process still starting when the load gave up is waited for (its start is bounded).
        restarted = await asyncio.gather(*restarting, return_exceptions=True)
        for gateway in [*gateways, *(g for g in restarted if isinstance(g, Contender))]:
            gateway.stop()
        if postgres is not None:
            postgres.stop()
        if redis is not None:
            redis.stop()
    return _chaos_figures(trouble, kind, followers, problems, struck_at, wall)


def _chaos_figures(
    trouble: str,
    kind: str,
    followers: list[chaos_load.Follower],
    problems: Counter[str],
    struck_at: list[float],
    wall: float,
) -> Row:
    """One row, with the same columns for every trouble ("-" where one does not apply)."""
    # The runs the trouble fell on: the killed process's; in a rolling restart, every run.
    if kind == "rolling":
        hit = followers
    else:
        hit = [f for f in followers if kind == "kill" and f.owner == 0]
    hit_ids = {f.index for f in hit}
    others = [f for f in followers if f.index not in hit_ids]
    attempts = [
        (f.index, e.data["ts"] / 1000) for f in hit for e in f.events if e.name == "run.attempt"
    ]
    if kind == "kill":
        resumed = [ts - struck_at[0] for _, ts in attempts]
        lost_ends = [f.events[-1].data["ts"] / 1000 - struck_at[0] for f in hit]
    else:
        # From the SIGTERM of the process that handed the run over: the latest before it.
        resumed = [
            ts - max((t for t in struck_at if t <= ts), default=struck_at[0]) for _, ts in attempts
        ]
        lost_ends = []
    ended, ended_hit, ended_others = (chaos_load.ends(f) for f in (followers, hit, others))
    worker_lost = "error (WorkerLost)"
    return {
        "trouble": trouble,
        "streams": len(followers),
        "reconnects": sum(f.connections - 1 for f in followers),
        "lost or repeated events": problems["streams with a lost or repeated event"],
        "not one final run.end": problems["streams without exactly one final run.end"]
        + problems["logs with more or less than one run.end"],
        "runs lost": len(hit) - ended_hit.get("success", 0) if hit else None,
        "runs cancelled": ended.get("cancelled", 0),
        "runs resumed (run.attempt)": f"{len({i for i, _ in attempts})} of {len(hit)}"
        if hit
        else None,
        "false WorkerLost": (ended_others if kind == "kill" else ended).get(worker_lost, 0),
        "other runs not success": len(others) - ended_others.get("success", 0)
        if kind != "rolling"
        else None,
        "killed runs ended WorkerLost": f"{ended_hit.get(worker_lost, 0)} of {len(hit)}"
        if kind == "kill"
        else None,
        "kill → run.end p50 s": _round(pct(lost_ends, 50)),
        "kill → run.end max s": _round(max(lost_ends, default=None)),
        "kill/SIGTERM → resumed p50 s": _round(pct(resumed, 50)),
        "kill/SIGTERM → resumed max s": _round(max(resumed, default=None)),
        "lease s": CHAOS_LEASE,
        "wall s": round(wall, 1),
    }


async def scaleout(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """10. The same load (N concurrent runs of ~50 events over ~3 s, each streamed) on 1, 2
    and 3 worker processes over one Redis: runs per second and run p99."""
    rows: list[Row] = []
    logs = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    n = sizes.scaleout_runs
    for workers in (1, 2, 3):
        redis = servers.RedisServer()
        gateway = servers.gateway(
            f"gateway ({workers} workers)", logs, store_url=redis.url, workers=workers
        )
        try:
            await asyncio.sleep(1 + workers)  # every worker up
            cpu = gateway.cpu_seconds()
            started = time.perf_counter()
            results = await asyncio.gather(*(stream(gateway, PACED, timeout=180) for _ in range(n)))
            wall = time.perf_counter() - started
            cpu = gateway.cpu_seconds() - cpu
        finally:
            gateway.stop()
            redis.stop()
        completed = [r for r in results if r.error is None and r.status == 200 and r.events >= 45]
        durations = [r.finished for r in completed if r.finished]
        rows.append(
            {
                "workers": workers,
                "runs": n,
                "completed": len(completed),
                "runs/s": round(len(completed) / wall, 1),
                "run p50 s": _round(pct(durations, 50)),
                "run p99 s": _round(pct(durations, 99)),
                "gateway CPU s": round(cpu, 1),
            }
        )
    return rows


Scenario = Callable[[list[Contender], Sizes], Awaitable[list[Row]]]


async def thread_reconnect(contenders: list[Contender], sizes: Sizes) -> list[Row]:
    """11. LangGraph's thread protocol: a client cut off halfway through a finished run of N
    tokens reconnects with `since`, the last seq it saw. What the reconnect costs (bytes,
    time) beside reading the thread whole, and whether it gets exactly the rest."""
    rows: list[Row] = []
    for contender in [c for c in contenders if c.kind in servers.THREAD_PROTOCOL]:
        request = contender.request({"tokens": sizes.tokens})
        path, body = request["path"], request["body"]
        read = {"method": "POST", "stop_when": servers.run_ended}
        live = asyncio.ensure_future(open_stream(contender.port, path, body=body, **read))
        await post_json(contender.port, *request["start"])
        await live
        whole = await open_stream(contender.port, path, body=body, **read)
        half = await open_stream(
            contender.port, path, method="POST", body=body, stop_after=whole.events // 2
        )
        if whole.error or half.error or half.last_id is None:
            rows.append({"contender": contender.name, "error": whole.error or half.error})
            continue
        since = int(half.last_id)
        rest = await open_stream(contender.port, path, body={**body, "since": since}, **read)
        rows.append(
            {
                "contender": contender.name,
                "events": whole.events,
                "whole: bytes": whole.bytes,
                "whole: ms": round((whole.finished or 0) * 1000),
                "reconnect at": half.events,
                "reconnect: events": rest.events,
                "exact": rest.events == whole.events - half.events,
                "reconnect: bytes": rest.bytes,
                "reconnect: ms": round((rest.finished or 0) * 1000),
            }
        )
    return rows


SCENARIOS: dict[str, Scenario] = {
    "overhead": overhead,
    "first_event": first_event,
    "concurrency": concurrency,
    "fanout": fanout,
    "idle": idle,
    "replay": replay,
    "idle_redis": idle_redis,
    "hot_path": hot_path,
    "chaos": chaos,
    "scaleout": scaleout,
    "thread_reconnect": thread_reconnect,
}
