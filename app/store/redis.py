"""The shared store: one Redis stream per run, so every server process serves every run.

Keys (all under `sse-gateway:`; a run's keys share the hash tag of its id):
- `run:{<id>}`          hash: status, created_at, ended_at, mode, on_disconnect, owner, events
                        (the last seq), subscribers (readers across all processes), ended (set
                        by the append of run.end) and batch (the token of the last append)
- `run:{<id>}:log`      stream: one entry per event, entry id `<seq>-0`, fields n (name) and f
                        (the exact SSE frame)
- `{live}:beats`        hash: process → a counter its heartbeat keeps moving (see liveness.py)
- `{live}:runs:<proc>`  set: the runs a process must end, or hand over when it stops
- `control`             pub/sub channel: "cancel <id>" and "idle <id>" for the owning process
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

import orjson
import redis as sync_redis
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import parse_url
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.events import Event, EventName, RunStatus
from app.store.base import (
    CONTROL_KINDS,
    AppendConflict,
    ControlKind,
    RunEnd,
    RunRecord,
    StoreUnavailable,
    new_process_id,
)
from app.store.liveness import Heartbeat, Watch
from app.store.redis_threads import RedisThreads

logger = logging.getLogger(__name__)

GapFactory = Callable[[str, int, int], Event]
PREFIX = "sse-gateway:"
READ_BATCH = 256
SOCKET_TIMEOUT_SECONDS = 5.0  # redis-py's default; `?socket_timeout=` in the URL changes it
COMMAND_CONNECTIONS = 256
POOL_WAIT_SECONDS = 60
OUTBOX_LIMIT = 1024
COALESCE_SECONDS = 0.002
FOLLOWER_BUFFER = 4096
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Appends are fenced: they land only where the log ends now, and never after its run.end. The
# append that carries run.end also records the final status and closes the log, in the same
# step, so exactly one run.end ever lands, whoever appends it (the owner, or a process ending
# the run as lost). `batch` names the last append, so a retried call can tell its own first try
# (whose reply was lost) from another writer's append.
_APPEND = """
local meta, log = KEYS[1], KEYS[2]
local last = tonumber(redis.call('HGET', meta, 'events'))
if last == nil then return redis.error_reply('CONFLICT gone') end
if redis.call('HEXISTS', meta, 'ended') == 1 then return redis.error_reply('CONFLICT ended') end
if last ~= tonumber(ARGV[1]) then return redis.error_reply('CONFLICT at ' .. last) end
local seq = last
for i = 7, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', log, 'MAXLEN', '~', ARGV[2], seq .. '-0', 'n', ARGV[i], 'f', ARGV[i + 1])
end
redis.call('HSET', meta, 'events', seq, 'batch', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', meta, 'status', ARGV[4], 'ended_at', ARGV[5], 'ended', 1)
  redis.call('EXPIRE', meta, ARGV[6])
  redis.call('EXPIRE', log, ARGV[6])
end
return seq
"""
_SET_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'ended') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
"""
# Claims a stopped process once: only while its counter still stands where the claimant saw
# it, and its runs move to the claimant's own set in the same step, so that if the claimant
# stops too, a third process finds them there.
_CLAIM = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local runs = redis.call('SMEMBERS', KEYS[2])
if #runs > 0 then redis.call('SUNIONSTORE', KEYS[3], KEYS[3], KEYS[2]) end
redis.call('DEL', KEYS[2])
return runs
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
                        {log: since}, count=512, block=store.block_ms
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
    end: RunEnd | None = None
    task: asyncio.Task[None] | None = None
    error: Exception | None = None


class RedisStore(RedisThreads):
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
        options: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT_SECONDS, **parse_url(url)}
        socket_timeout = float(options["socket_timeout"] or SOCKET_TIMEOUT_SECONDS)
        options.setdefault("socket_connect_timeout", min(2.0, socket_timeout))
        # A follower's XREAD blocks on the server for as long as a command may take, on a
        # connection that waits longer than that: an idle run is not a dead connection.
        self.block_ms = max(1, round(socket_timeout * 1000))
        # A short retry hides a failover or restart; beyond it, callers see StoreUnavailable.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=8)
        # Callers wait for a free connection rather than fail with "Too many connections":
        # waiting for a free connection under load is not Redis being down.
        self.redis = Redis.from_pool(
            BlockingConnectionPool(
                **options,
                max_connections=COMMAND_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
                retry=retry,
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
        )
        # One blocking connection per followed run, shared by all of this process's readers
        # of that run.
        self.blocking = Redis.from_pool(
            ConnectionPool(
                **{**options, "socket_timeout": 2 * socket_timeout},
                max_connections=2**20,
                socket_keepalive=True,
            )
        )
        self._append = self.redis.register_script(_APPEND)
        self._set_status = self.redis.register_script(_SET_STATUS)
        self._add_subscriber = self.redis.register_script(_ADD_SUBSCRIBER)
        self._claim = self.redis.register_script(_CLAIM)
        RedisThreads.__init__(self)
        self._followers: dict[str, _Follower] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._retried: Callable[[], None] = _nothing
        self._failed: Callable[[], None] = _nothing
        self._batches = itertools.count()
        self._process_id = new_process_id()
        self._owned: set[str] = set()  # mirrors {live}:runs:<this process>
        self._heartbeat: Heartbeat | None = None
        self._watch: Watch | None = None
        self._ticker: asyncio.TimerHandle | None = None

    @property
    def process_id(self) -> str:
        return self._process_id

    def meta_key(self, run_id: str) -> str:
        return f"{PREFIX}run:{{{run_id}}}"

    def log_key(self, run_id: str) -> str:
        return f"{PREFIX}run:{{{run_id}}}:log"

    @staticmethod
    def beats_key() -> str:
        return f"{PREFIX}{{live}}:beats"

    @staticmethod
    def owned_key(process_id: str) -> str:
        return f"{PREFIX}{{live}}:runs:{process_id}"

    def instrument(self, retried: Callable[[], None], failed: Callable[[], None]) -> None:
        self._retried, self._failed = retried, failed

    async def retrying(self, call: Callable[[], Any]) -> Any:
        """Run one Redis call, retrying connection failures for up to `retry_seconds`."""
        deadline = time.monotonic() + self._retry_seconds
        delay = 0.05
        while True:
            try:
                return await call()
            except _UNREACHABLE as exc:
                if time.monotonic() + delay > deadline:
                    self._failed()
                    raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc
                self._retried()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def ping(self) -> None:
        with _reachable(self.url):
            await self.redis.ping()

    async def open(self, lease_seconds: float) -> None:
        with _reachable(self.url):
            await self.redis.hset(self.beats_key(), self._process_id, 0)
        loop = asyncio.get_running_loop()
        self._watch = Watch(lease_seconds)
        beat_client = sync_redis.Redis.from_url(self.url)
        # The heartbeat must not wait longer than a beat on a call.
        beat_client.connection_pool.connection_kwargs.update(
            socket_timeout=lease_seconds / 4, socket_connect_timeout=lease_seconds / 4
        )
        self._heartbeat = Heartbeat(
            beat_client,
            self.beats_key(),
            self._process_id,
            lease_seconds,
            new_identity=new_process_id,
            on_new_identity=lambda old, new: loop.call_soon_threadsafe(
                self._adopt_identity, old, new
            ),
        )
        self._heartbeat.start()
        self._tick(lease_seconds / 4)

    def _tick(self, interval: float) -> None:
        # Lets the heartbeat thread see that the event loop still turns.
        if self._heartbeat is not None:
            self._heartbeat.loop_alive_at = time.monotonic()
            self._ticker = asyncio.get_running_loop().call_later(interval, self._tick, interval)

    def _adopt_identity(self, old: str, new: str) -> None:
        self._process_id = new

        async def move_runs() -> None:
            # Runs started after the claim went to the old set: they are alive, and now ours.
            with contextlib.suppress(StoreUnavailable):
                await self.retrying(
                    lambda: self.redis.sunionstore(
                        self.owned_key(new), [self.owned_key(new), self.owned_key(old)]
                    )
                )
                await self.retrying(lambda: self.redis.delete(self.owned_key(old)))

        asyncio.get_running_loop().create_task(move_runs())

    async def create_run(self, record: RunRecord) -> None:
        fields = {
            "status": str(record.status),
            "created_at": record.created_at,
            "mode": record.mode,
            "on_disconnect": str(record.on_disconnect),
            "owner": record.owner,
            "events": 0,
            "subscribers": 0,
            "thread_id": record.thread_id or "",
            "meta": orjson.dumps(record.meta),
            "principal": record.principal or "",
        }
        self._owned.add(record.run_id)

        async def create() -> None:
            # Owned first: a process that stops in between leaves a run id with no run, which
            # the process that claims it skips.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(self.owned_key(self._process_id), record.run_id)
                pipe.hset(self.meta_key(record.run_id), mapping=fields)
                await pipe.execute()

        await self.retrying(create)

    async def get_run(self, run_id: str) -> RunRecord | None:
        fields = await self.retrying(lambda: self.redis.hgetall(self.meta_key(run_id)))
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
            thread_id=text.get("thread_id") or None,
            meta=orjson.loads(text.get("meta") or "{}"),
            principal=text.get("principal") or None,
        )

    async def set_status(self, run_id: str, status: RunStatus) -> None:
        await self.retrying(lambda: self._set_status(keys=[self.meta_key(run_id)], args=[status]))

    async def append(self, run_id: str, events: Sequence[Event], end: RunEnd | None = None) -> None:
        # Group commit: events wait in the run's outbox while a write is under way, and go to
        # Redis together in the next one, so a fast run is not held to one round trip per event.
        outbox = self._outboxes.setdefault(run_id, _Outbox())
        self._raise_failure(run_id, outbox)
        outbox.pending.extend(events)
        if end is not None:
            outbox.end = end
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
                end, outbox.end = outbox.end, None
                await self._write(run_id, batch, end)
                if end is not None:
                    self._outboxes.pop(run_id, None)
        except (AppendConflict, StoreUnavailable) as exc:
            outbox.error = exc
            outbox.pending.clear()

    async def release_run(self, run_id: str) -> None:
        self._owned.discard(run_id)
        await self.retrying(lambda: self.redis.srem(self.owned_key(self._process_id), run_id))

    async def discard_run(self, run_id: str) -> None:
        self._owned.discard(run_id)

        async def discard() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(self.meta_key(run_id), self.log_key(run_id))
                pipe.srem(self.owned_key(self._process_id), run_id)
                await pipe.execute()

        await self.retrying(discard)

    async def _write(self, run_id: str, events: Sequence[Event], end: RunEnd | None) -> None:
        batch = f"{self._process_id}:{next(self._batches)}"
        args: list[Any] = [events[0].seq - 1, self._max_events, batch]
        args += (end.status, end.ended_at, self._ttl) if end else ("", "", "")
        for event in events:
            args += (event.name, event.frame)
        meta = self.meta_key(run_id)
        try:
            await self.retrying(lambda: self._append(keys=[meta, self.log_key(run_id)], args=args))
        except ResponseError as exc:
            if not str(exc).startswith("CONFLICT"):
                raise
            # A retried call whose first try did land (its reply was lost) is not a conflict.
            landed = await self.retrying(lambda: self.redis.hget(meta, "batch"))
            if landed != batch.encode():
                raise AppendConflict(
                    f"run {run_id}: {exc}", ended=str(exc) in ("CONFLICT ended", "CONFLICT gone")
                ) from exc

    async def last_seq(self, run_id: str) -> int | None:
        last = await self.retrying(lambda: self.redis.hget(self.meta_key(run_id), "events"))
        return None if last is None else int(last)

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
                        if kind in CONTROL_KINDS:
                            yield kind, run_id  # type: ignore[misc]
            except _UNREACHABLE as exc:
                logger.warning("control channel lost (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2)

    async def claim_lost_runs(self) -> list[str]:
        assert self._watch is not None, "open() first"
        try:
            beats = await self.redis.hgetall(self.beats_key())
        except _UNREACHABLE as exc:
            self._watch.forget()
            raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc
        others = {k.decode(): v for k, v in beats.items() if k.decode() != self._process_id}
        claimed: list[str] = []
        for process, value in self._watch.stopped(others, time.monotonic()):
            keys = [self.beats_key(), self.owned_key(process), self.owned_key(self._process_id)]
            with _reachable(self.url):
                runs = await self._claim(keys=keys, args=[process, value])
            if runs is not None:
                logger.warning("process %s has stopped: ending its %d runs", process, len(runs))
                claimed += (run_id.decode() for run_id in runs)
        self._owned.update(claimed)
        return claimed

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._heartbeat is not None:
            await asyncio.to_thread(self._heartbeat.stop)
            # Runs still open are left for another process to end; with none, leave at once.
            if not self._owned:
                with contextlib.suppress(*_UNREACHABLE):
                    await self.redis.hdel(self.beats_key(), self._process_id)
                    await self.redis.delete(self.owned_key(self._process_id))
        for follower in self._followers.values():
            follower.task.cancel()
        self._followers.clear()
        await self.redis.aclose()
        await self.blocking.aclose()


def _nothing() -> None:
    return None
