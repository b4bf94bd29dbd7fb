"""The shared store: one Redis stream per run, so every server process serves every run.

Keys (all under `sse-gateway:`):
- `run:<id>`       hash: status, created_at, ended_at, mode, on_disconnect, owner, events
                   (the last seq) and subscribers (readers across all processes)
- `run:<id>:log`   stream: one entry per event, entry id `<seq>-0`, fields n (name) and f (frame)
- `leases`         sorted set: run id → the time (ms) its owner's lease runs out
- `control`        pub/sub channel: "cancel <id>" and "idle <id>" for the owning process
A finished run's two keys expire GATEWAY_RUN_TTL_SECONDS after its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.events import Event, EventName, RunStatus
from app.store.base import AppendConflict, ControlKind, RunRecord, StoreUnavailable

logger = logging.getLogger(__name__)

GapFactory = Callable[[str, int, int], Event]
PREFIX = "sse-gateway:"
READ_BATCH = 256
BLOCK_MS = 5000
COMMAND_CONNECTIONS = 256
POOL_WAIT_SECONDS = 60
OUTBOX_LIMIT = 1024
COALESCE_SECONDS = 0.002
FOLLOWER_BUFFER = 4096
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Appends are fenced: they land only where the log ends now, and never after the run's end, so
# a process that lost its run (its lease expired and another process ended it) cannot write on.
_APPEND = """
local last = tonumber(redis.call('HGET', KEYS[1], 'events'))
if last == nil then return redis.error_reply('CONFLICT gone') end
if last ~= tonumber(ARGV[1]) then return redis.error_reply('CONFLICT ' .. last) end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'success' or status == 'error' or status == 'cancelled' then
  return redis.error_reply('CONFLICT ' .. status)
end
local seq = last
for i = 3, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'n', ARGV[i], 'f', ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'events', seq)
return seq
"""
# HINCRBY would create the hash of a run that has expired meanwhile.
_ADD_SUBSCRIBER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'subscribers', ARGV[1])
"""


@contextlib.contextmanager
def _reachable(url: str) -> Iterator[None]:
    try:
        yield
    except _UNREACHABLE as exc:
        raise StoreUnavailable(f"cannot reach Redis at {url}: {exc}") from exc


def _seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def _event(entry: tuple[bytes, dict[bytes, bytes]]) -> Event:
    entry_id, fields = entry
    return Event(_seq(entry_id), fields[b"n"].decode(), fields[b"f"])


class _Follower:
    """One blocking XREAD per run and process, shared by all of this process's readers."""

    def __init__(self, store: RedisStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.readers = 0
        self.events: deque[Event] = deque(maxlen=FOLLOWER_BUFFER)
        self.base = -1  # every event after `base` is in `events` (until the deque drops some)
        self.done = False
        self.ready = asyncio.Event()
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._follow(), name=f"follow-{run_id}")

    def after(self, seq: int) -> list[Event] | None:
        """Buffered events after `seq`; None when `seq` is older than the buffer."""
        first = self.events[0].seq if self.events else self.base + 1
        if seq < first - 1:
            return None
        start = seq + 1 - first
        return list(itertools.islice(self.events, start, start + READ_BATCH))

    async def wait(self) -> None:
        await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _follow(self) -> None:
        store, log, meta = (
            self.store,
            self.store.log_key(self.run_id),
            self.store.meta_key(self.run_id),
        )
        try:
            latest = await store.retrying(lambda: store.blocking.xrevrange(log, count=1))
            last_id = latest[0][0] if latest else b"0-0"
            self.base = _seq(last_id)
            self.ready.set()
            while True:
                reply = await store.retrying(
                    lambda since=last_id: store.blocking.xread(
                        {log: since}, count=512, block=BLOCK_MS
                    )
                )
                if not reply:
                    if not await store.retrying(lambda: store.redis.exists(meta)):
                        return  # the run has expired
                    continue
                entries = reply[0][1]
                last_id = entries[-1][0]
                self.events.extend(_event(e) for e in entries)
                self._wake()
                if self.events[-1].name == EventName.RUN_END:
                    return
                # As in the SSE layer: let a fast run's events gather into fewer, larger reads.
                await asyncio.sleep(COALESCE_SECONDS)
        except StoreUnavailable as exc:
            logger.warning("following run %s stopped: %s", self.run_id, exc)
        finally:
            self.done = True
            self.ready.set()
            self._wake()


@dataclass
class _Outbox:
    pending: list[Event] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    error: Exception | None = None


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        max_events_per_run: int,
        run_ttl_seconds: float,
        gap_event: GapFactory,
        retry_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self._max_events = max_events_per_run
        self._ttl = max(1, round(run_ttl_seconds))
        self._gap_event = gap_event
        self._retry_seconds = retry_seconds
        # A short retry hides a failover or restart; beyond it, callers see StoreUnavailable.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=8)
        # Callers wait for a free connection rather than fail with "Too many connections".
        self.redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                url,
                max_connections=COMMAND_CONNECTIONS,
                # Waiting for a free connection under load is not Redis being down.
                timeout=POOL_WAIT_SECONDS,
                socket_connect_timeout=2,
                socket_timeout=5,
                retry=retry,
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
        )
        # Blocking reads wait up to BLOCK_MS on the server, so their connections get no timeout;
        # there is one per followed run, shared by all of this process's readers of that run.
        self.blocking = Redis(
            connection_pool=ConnectionPool.from_url(
                url, max_connections=2**20, socket_connect_timeout=2, socket_keepalive=True
            )
        )
        self._append = self.redis.register_script(_APPEND)
        self._add_subscriber = self.redis.register_script(_ADD_SUBSCRIBER)
        self._followers: dict[str, _Follower] = {}
        self._outboxes: dict[str, _Outbox] = {}

    def meta_key(self, run_id: str) -> str:
        return f"{PREFIX}run:{run_id}"

    def log_key(self, run_id: str) -> str:
        return f"{PREFIX}run:{run_id}:log"

    async def retrying(self, call: Callable[[], Any]) -> Any:
        """Run one Redis call, retrying connection failures for up to `retry_seconds`."""
        deadline = time.monotonic() + self._retry_seconds
        delay = 0.05
        while True:
            try:
                return await call()
            except _UNREACHABLE as exc:
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc

    async def create_run(self, record: RunRecord, lease_seconds: float) -> None:
        fields = {
            "status": str(record.status),
            "created_at": record.created_at,
            "mode": record.mode,
            "on_disconnect": str(record.on_disconnect),
            "owner": record.owner,
            "events": 0,
            "subscribers": 0,
        }
        with _reachable(self.url):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.meta_key(record.run_id), mapping=fields)
                pipe.zadd(f"{PREFIX}leases", {record.run_id: _deadline(lease_seconds)})
                await pipe.execute()

    async def get_run(self, run_id: str) -> RunRecord | None:
        with _reachable(self.url):
            fields = await self.redis.hgetall(self.meta_key(run_id))
        if not fields:
            return None
        text = {k.decode(): v.decode() for k, v in fields.items()}
        return RunRecord(
            run_id=run_id,
            status=RunStatus(text["status"]),
            created_at=text["created_at"],
            mode=text.get("mode", "events"),
            on_disconnect=text.get("on_disconnect", "continue"),
            owner=text.get("owner", ""),
            ended_at=text.get("ended_at") or None,
            events=int(text.get("events", 0)),
        )

    async def set_status(self, run_id: str, status: RunStatus, ended_at: str | None = None) -> None:
        meta = self.meta_key(run_id)
        with _reachable(self.url):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(meta, mapping={"status": str(status), "ended_at": ended_at or ""})
                if status.finished:
                    self._outboxes.pop(run_id, None)
                    pipe.expire(meta, self._ttl)
                    pipe.expire(self.log_key(run_id), self._ttl)
                    pipe.zrem(f"{PREFIX}leases", run_id)
                await pipe.execute()

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        # Group commit: events wait in the run's outbox while a write is under way, and go to
        # Redis together in the next one, so a fast run is not held to one round trip per event.
        outbox = self._outboxes.setdefault(run_id, _Outbox())
        self._raise_failure(run_id, outbox)
        outbox.pending.extend(events)
        if outbox.task is None or outbox.task.done():
            outbox.task = asyncio.create_task(self._drain(run_id, outbox))
        if len(outbox.pending) > OUTBOX_LIMIT:
            await self.flush(run_id)

    async def flush(self, run_id: str) -> None:
        outbox = self._outboxes.get(run_id)
        if outbox is None:
            return
        if outbox.task is not None:
            await asyncio.shield(outbox.task)
        self._raise_failure(run_id, outbox)

    def _raise_failure(self, run_id: str, outbox: _Outbox) -> None:
        # Once: the events it held are lost, and whoever writes next starts from the log's end.
        if outbox.error is not None:
            del self._outboxes[run_id]
            raise outbox.error

    async def _drain(self, run_id: str, outbox: _Outbox) -> None:
        try:
            while outbox.pending:
                batch, outbox.pending = outbox.pending, []
                await self._write(run_id, batch)
        except (AppendConflict, StoreUnavailable) as exc:
            outbox.error = exc
            outbox.pending.clear()

    async def _write(self, run_id: str, events: Sequence[Event]) -> None:
        args: list[Any] = [events[0].seq - 1, self._max_events]
        for event in events:
            args += (event.name, event.frame)
        keys = [self.meta_key(run_id), self.log_key(run_id)]
        try:
            await self.retrying(lambda: self._append(keys=keys, args=args))
        except ResponseError as exc:
            if not str(exc).startswith("CONFLICT"):
                raise
            # A retried call whose first try did land (its reply was lost) is not a conflict.
            with _reachable(self.url):
                last = await self.redis.hget(self.meta_key(run_id), "events")
            if last is None or int(last) != events[-1].seq:
                raise AppendConflict(f"run {run_id}: {exc}") from exc

    async def read(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        follower = self._followers.get(run_id)
        if follower is None or follower.done:
            follower = self._followers[run_id] = _Follower(self, run_id)
        follower.readers += 1
        try:
            await follower.ready.wait()
            while True:
                batch = follower.after(after)
                if batch is None:
                    batch = await self._range(run_id, after)
                    if batch and batch[0].seq > after + 1:
                        yield [self._gap_event(run_id, after, batch[0].seq)]
                elif not batch and not follower.done:
                    await follower.wait()
                    continue
                if not batch:
                    return
                yield batch
                after = batch[-1].seq
                if batch[-1].name == EventName.RUN_END:
                    return
        except StoreUnavailable as exc:
            logger.warning("reading run %s stopped: %s", run_id, exc)
        finally:
            follower.readers -= 1
            if follower.readers == 0 and self._followers.get(run_id) is follower:
                del self._followers[run_id]
                follower.task.cancel()

    async def _range(self, run_id: str, after: int) -> list[Event]:
        entries = await self.retrying(
            lambda: self.redis.xrange(self.log_key(run_id), min=f"{after + 1}-0", count=READ_BATCH)
        )
        return [_event(e) for e in entries]

    async def add_subscriber(self, run_id: str, delta: int) -> int:
        return int(
            await self.retrying(
                lambda: self._add_subscriber(keys=[self.meta_key(run_id)], args=[delta])
            )
        )

    async def publish(self, kind: ControlKind, run_id: str) -> None:
        await self.retrying(lambda: self.redis.publish(f"{PREFIX}control", f"{kind} {run_id}"))

    async def control(self) -> AsyncIterator[tuple[ControlKind, str]]:
        delay = 0.1
        while True:
            try:
                async with self.blocking.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(f"{PREFIX}control")
                    delay = 0.1
                    async for message in pubsub.listen():
                        kind, _, run_id = message["data"].decode().partition(" ")
                        if kind in ("cancel", "idle"):
                            yield kind, run_id  # type: ignore[misc]
            except _UNREACHABLE as exc:
                logger.warning("control channel lost (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2)

    async def renew_leases(self, run_ids: Sequence[str], lease_seconds: float) -> list[str]:
        deadline = _deadline(lease_seconds)
        with _reachable(self.url):
            async with self.redis.pipeline(transaction=False) as pipe:
                for run_id in run_ids:
                    pipe.zadd(f"{PREFIX}leases", {run_id: deadline}, xx=True, ch=True)
                renewed = await pipe.execute()
        return [run_id for run_id, changed in zip(run_ids, renewed, strict=True) if not changed]

    async def claim_expired(self) -> list[str]:
        leases = f"{PREFIX}leases"
        with _reachable(self.url):
            expired = await self.redis.zrangebyscore(leases, "-inf", _deadline(0), start=0, num=50)
            # ZREM answers 1 to exactly one process: that one ends the run.
            return [rid.decode() for rid in expired if await self.redis.zrem(leases, rid)]

    async def close(self) -> None:
        for follower in self._followers.values():
            follower.task.cancel()
        self._followers.clear()
        await self.redis.aclose()
        await self.blocking.aclose()


def _deadline(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)
