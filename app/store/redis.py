"""The shared store: one Redis stream per run, so every server process serves every run.

Keys (all under `sse-gateway:`; a run's keys and channels share the hash tag of its id, so on a
cluster they live on one node):
- `run:{<id>}`          hash: status, created_at, ended_at, mode, on_disconnect, owner, events
                        (the last seq), subscribers (readers across all processes), ended (set
                        by the append of run.end), batch (the token of the last append),
                        attempt and lost (see take_run) and spec (what continues the run)
- `run:{<id>}:log`      stream: one entry per event, entry id `<seq>-0`, fields n (name) and f
                        (the exact SSE frame)
- `run:{<id>}:appended` channel: every append announces the log's new last seq there
- `run:{<id>}:control`  channel: "cancel", "idle" and "start", for the process that owns the run
- `{live}:beats`        hash: process → a counter its heartbeat keeps moving (see liveness.py)
- `{live}:runs:<proc>`  set: the runs a process must end, or hand over when it stops
- `{live}:handed`       set: runs a stopping process handed over, for any other to take
A finished run's two keys expire GATEWAY_RUN_TTL_SECONDS after its end. On a cluster
(`redis+cluster://`) the channels are shard channels (SPUBLISH, Redis 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis as sync_redis
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError
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
from app.store.redis_pubsub import Listener
from app.store.redis_records import RedisRecords
from app.store.redis_threads import RedisThreads

logger = logging.getLogger(__name__)

GapFactory = Callable[[str, int, int], Event]
PREFIX = "sse-gateway:"
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
READ_BATCH = 256
SOCKET_TIMEOUT_SECONDS = 5.0  # redis-py's default; `?socket_timeout=` in the URL changes it
# Every command of a process shares these few connections: nothing blocks on them, and a
# thousand runs writing at once are batched by their outboxes, not by more sockets.
COMMAND_CONNECTIONS = 12
POOL_WAIT_SECONDS = 60
OUTBOX_LIMIT = 1024
COALESCE_SECONDS = 0.002
FOLLOWER_BUFFER = 4096
FOLLOWER_READ = 512  # events per read of one run's log
FETCH_BATCH = 256  # runs read in one pipelined round trip
# How often every followed run's last seq is compared with what its follower has read: pub/sub
# may drop an announcement (a reconnect), and this bounds how late the follower then learns.
SWEEP_SECONDS = 5.0
SWEEP_BATCH = 512
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Appends are fenced: they land only where the log ends now, and never after its run.end. The
# append that carries run.end also records the final status and closes the log, in the same
# step, so exactly one run.end ever lands, whoever appends it (the owner, or a process ending
# the run as lost). `batch` names the last append, so a retried call can tell its own first try
# (whose reply was lost) from another writer's append.
_APPEND = """
local meta, log, appended = KEYS[1], KEYS[2], KEYS[3]
local last = tonumber(redis.call('HGET', meta, 'events'))
if last == nil then return redis.error_reply('CONFLICT gone') end
if redis.call('HEXISTS', meta, 'ended') == 1 then return redis.error_reply('CONFLICT ended') end
if ARGV[8] ~= '' and redis.call('HGET', meta, 'owner') ~= ARGV[8] then
  return redis.error_reply('CONFLICT taken')
end
if last ~= tonumber(ARGV[1]) then return redis.error_reply('CONFLICT at ' .. last) end
local seq = last
for i = 9, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', log, 'MAXLEN', '~', ARGV[2], seq .. '-0', 'n', ARGV[i], 'f', ARGV[i + 1])
end
redis.call('HSET', meta, 'events', seq, 'batch', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', meta, 'status', ARGV[4], 'ended_at', ARGV[5], 'ended', 1)
  redis.call('EXPIRE', meta, ARGV[6])
  redis.call('EXPIRE', log, ARGV[6])
end
redis.call(ARGV[7], appended, seq)
return seq
"""
_PUBLISH = "return redis.call(ARGV[1], KEYS[1], ARGV[2])"
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
# Handed-over runs, a few at a time, into the claimant's own set in the same step.
_CLAIM_HANDED = """
local runs = redis.call('SPOP', KEYS[1], ARGV[1])
for _, run in ipairs(runs) do redis.call('SADD', KEYS[2], run) end
return runs
"""
# The new owner fences the old one out (appends carry their owner): a process that was only
# cut off, not stopped, can no longer write to a run another process continues.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'ended') == 1 then
  return false
end
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '1')
local lost = tonumber(redis.call('HGET', KEYS[1], 'lost') or '0')
if redis.call('HGET', KEYS[1], 'status') == 'running' then attempt = attempt + 1 end
if ARGV[2] == '0' then lost = lost + 1 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'attempt', attempt, 'lost', lost)
return attempt
"""
HANDED_BATCH = 100
RUN_FIELDS = (
    "status",
    "created_at",
    "mode",
    "on_disconnect",
    "owner",
    "ended_at",
    "events",
    "thread_id",
    "meta",
    "principal",
    "attempt",
    "lost",
)
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
    """What this process has read of one run's log, shared by all of its readers of that run.

    It holds no connection: the run's append announcements (one channel on the process's
    pub/sub connection) and a periodic sweep tell it when to read more."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.readers = 0
        self.events: deque[Event] = deque(maxlen=FOLLOWER_BUFFER)
        self.base = -1  # every event after `base` is in `events` (until the deque drops some)
        self.done = False
        self.ready = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def last(self) -> int:
        return self.events[-1].seq if self.events else self.base

    def after(self, seq: int) -> list[Event] | None:
        """Buffered events after `seq`; None when `seq` is older than the buffer."""
        first = self.events[0].seq if self.events else self.base + 1
        if seq < first - 1:
            return None
        start = seq + 1 - first
        return list(itertools.islice(self.events, start, start + READ_BATCH))

    async def wait(self) -> None:
        await self._changed.wait()

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def finish(self) -> None:
        self.done = True
        self.ready.set()
        self.wake()


@dataclass
class _Outbox:
    owner: str = ""  # appends land only while this process owns the run ("" for any)
    pending: list[Event] = field(default_factory=list)
    end: RunEnd | None = None
    task: asyncio.Task[None] | None = None
    error: Exception | None = None


class RedisStore(RedisThreads, RedisRecords):
    # Every process sees every run: one can continue what another began.
    shared = True

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
        scheme, _, rest = url.partition("://")
        self.cluster = scheme in CLUSTER_SCHEMES
        # redis-py knows the cluster by the plain scheme; `+cluster` only tells this store.
        self._node_url = f"{scheme.removesuffix('+cluster')}://{rest}"
        options: dict[str, Any] = {
            "socket_timeout": SOCKET_TIMEOUT_SECONDS,
            **parse_url(self._node_url),
        }
        options.setdefault("socket_connect_timeout", min(2.0, float(options["socket_timeout"])))
        self._options = options
        # A short retry hides a failover or restart; beyond it, callers see StoreUnavailable.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=8)
        self.redis: Any
        if self.cluster:
            # The cluster client fails at once when a node's connections are all taken, so
            # `retrying` queues callers on a semaphore of the same size instead.
            self.redis = RedisCluster.from_url(
                self._node_url,
                max_connections=COMMAND_CONNECTIONS,
                retry=retry,
                socket_timeout=options["socket_timeout"],
                socket_connect_timeout=options["socket_connect_timeout"],
            )
        else:
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
        self._slots = asyncio.Semaphore(COMMAND_CONNECTIONS)
        self._publish_command = "SPUBLISH" if self.cluster else "PUBLISH"
        self._append = self.redis.register_script(_APPEND)
        self._publish = self.redis.register_script(_PUBLISH)
        self._set_status = self.redis.register_script(_SET_STATUS)
        self._add_subscriber = self.redis.register_script(_ADD_SUBSCRIBER)
        self._claim = self.redis.register_script(_CLAIM)
        self._claim_handed = self.redis.register_script(_CLAIM_HANDED)
        self._take_script = self.redis.register_script(_TAKE)
        RedisThreads.__init__(self)
        RedisRecords.__init__(self)
        self._followers: dict[str, _Follower] = {}
        self._listeners: dict[str, Listener] = {}  # by node ("" off a cluster)
        self._looking: set[str] = set()  # nodes whose channels are being looked for elsewhere
        self._control: asyncio.Queue[tuple[ControlKind, str]] = asyncio.Queue()
        self._chores: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stale: dict[str, _Follower] = {}  # followers whose log holds more, in order
        self._fetcher: asyncio.Task[None] | None = None
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

    def appended_channel(self, run_id: str) -> str:
        return f"{PREFIX}run:{{{run_id}}}:appended"

    def control_channel(self, run_id: str) -> str:
        return f"{PREFIX}run:{{{run_id}}}:control"

    @staticmethod
    def beats_key() -> str:
        return f"{PREFIX}{{live}}:beats"

    @staticmethod
    def owned_key(process_id: str) -> str:
        return f"{PREFIX}{{live}}:runs:{process_id}"

    @staticmethod
    def handed_key() -> str:
        return f"{PREFIX}{{live}}:handed"

    def instrument(self, retried: Callable[[], None], failed: Callable[[], None]) -> None:
        self._retried, self._failed = retried, failed

    async def retrying(self, call: Callable[[], Any]) -> Any:
        """Run one Redis call, retrying connection failures for up to `retry_seconds`."""
        deadline = time.monotonic() + self._retry_seconds
        delay = 0.05
        while True:
            try:
                if not self.cluster:
                    return await call()
                async with self._slots:
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
        # The heartbeat must not wait longer than a beat on a call.
        timeouts = {
            "socket_timeout": lease_seconds / 4,
            "socket_connect_timeout": lease_seconds / 4,
        }
        beat_client: Any
        if self.cluster:
            beat_client = sync_redis.RedisCluster.from_url(self._node_url, **timeouts)
        else:
            beat_client = sync_redis.Redis.from_url(self._node_url)
            beat_client.connection_pool.connection_kwargs.update(timeouts)
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
        self._sweeper = asyncio.create_task(self._sweep(), name="follow-sweep")

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

    async def create_run(self, record: RunRecord, spec: dict[str, Any] | None = None) -> None:
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
            "attempt": record.attempt,
            "lost": record.lost,
        }
        if spec is not None:
            fields["spec"] = orjson.dumps(spec)
        self._owned.add(record.run_id)

        async def create() -> None:
            # Owned first: a process that stops in between leaves a run id with no run, which
            # the process that claims it skips.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(self.owned_key(self._process_id), record.run_id)
                pipe.hset(self.meta_key(record.run_id), mapping=fields)
                await pipe.execute()

        await asyncio.gather(
            self.retrying(create), self._listen(self.control_channel(record.run_id))
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        # Named fields, not HGETALL: the spec (the run's whole input) stays in Redis.
        values = await self.retrying(lambda: self.redis.hmget(self.meta_key(run_id), RUN_FIELDS))
        if values[0] is None:
            return None
        text = {k: v.decode() for k, v in zip(RUN_FIELDS, values, strict=True) if v is not None}
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
            attempt=int(text.get("attempt", 1)),
            lost=int(text.get("lost", 0)),
        )

    async def run_spec(self, run_id: str) -> dict[str, Any] | None:
        spec = await self.retrying(lambda: self.redis.hget(self.meta_key(run_id), "spec"))
        return None if spec is None else orjson.loads(spec)

    async def set_status(self, run_id: str, status: RunStatus) -> None:
        await self.retrying(lambda: self._set_status(keys=[self.meta_key(run_id)], args=[status]))

    async def append(
        self,
        run_id: str,
        events: Sequence[Event],
        end: RunEnd | None = None,
        owner: str | None = None,
    ) -> None:
        # Group commit: events wait in the run's outbox while a write is under way, and go to
        # Redis together in the next one, so a fast run is not held to one round trip per event.
        outbox = self._outboxes.setdefault(run_id, _Outbox(owner=owner or ""))
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
                await self._write(run_id, batch, end, outbox.owner)
                if end is not None:
                    self._outboxes.pop(run_id, None)
        except (AppendConflict, StoreUnavailable) as exc:
            outbox.error = exc
            outbox.pending.clear()

    async def release_run(self, run_id: str) -> None:
        self._owned.discard(run_id)
        await self._unlisten(self.control_channel(run_id))
        await self.retrying(lambda: self.redis.srem(self.owned_key(self._process_id), run_id))

    async def hand_over(self, run_id: str) -> None:
        self._owned.discard(run_id)
        await self._unlisten(self.control_channel(run_id))
        await self.retrying(
            lambda: self.redis.smove(self.owned_key(self._process_id), self.handed_key(), run_id)
        )

    async def take_run(self, run_id: str, handed_over: bool) -> RunRecord | None:
        taken = await self.retrying(
            lambda: self._take_script(
                keys=[self.meta_key(run_id)],
                args=[self._process_id, 1 if handed_over else 0],
            )
        )
        if taken is None:
            return None
        self._owned.add(run_id)
        await self._listen(self.control_channel(run_id))
        return await self.get_run(run_id)

    async def delete_run(self, record: RunRecord) -> None:
        run_id = record.run_id
        await self.retrying(lambda: self.redis.delete(self.meta_key(run_id), self.log_key(run_id)))
        if record.thread_id is not None:
            await self.forget_thread_run(record.thread_id, run_id)

    async def discard_run(self, run_id: str) -> None:
        self._owned.discard(run_id)
        await self._unlisten(self.control_channel(run_id))

        async def discard() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(self.meta_key(run_id), self.log_key(run_id))
                pipe.srem(self.owned_key(self._process_id), run_id)
                await pipe.execute()

        await self.retrying(discard)

    async def _write(
        self, run_id: str, events: Sequence[Event], end: RunEnd | None, owner: str
    ) -> None:
        batch = f"{self._process_id}:{next(self._batches)}"
        args: list[Any] = [events[0].seq - 1, self._max_events, batch]
        args += (end.status, end.ended_at, self._ttl) if end else ("", "", "")
        args += (self._publish_command, owner)
        for event in events:
            args += (event.name, event.frame)
        meta = self.meta_key(run_id)
        keys = [meta, self.log_key(run_id), self.appended_channel(run_id)]
        try:
            await self.retrying(lambda: self._append(keys=keys, args=args))
        except ResponseError as exc:
            if not str(exc).startswith("CONFLICT"):
                raise
            # A retried call whose first try did land (its reply was lost) is not a conflict.
            landed = await self.retrying(lambda: self.redis.hget(meta, "batch"))
            if landed != batch.encode():
                raise AppendConflict(
                    f"run {run_id}: {exc}",
                    ended=str(exc) in ("CONFLICT ended", "CONFLICT gone", "CONFLICT taken"),
                ) from exc

    async def last_seq(self, run_id: str) -> int | None:
        last = await self.retrying(lambda: self.redis.hget(self.meta_key(run_id), "events"))
        return None if last is None else int(last)

    async def read(self, run_id: str, after: int) -> AsyncIterator[Sequence[Event]]:
        follower = self._followers.get(run_id)
        new = follower is None
        if follower is None:
            follower = self._followers[run_id] = _Follower(run_id)
        follower.readers += 1
        try:
            if new:
                # Announcements first, then the log: no append falls between the two.
                await self._listen(self.appended_channel(run_id))
                self._catch_up(follower)
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
                if not follower.done:
                    self._chore(self._unlisten(self.appended_channel(run_id)))

    def _catch_up(self, follower: _Follower) -> None:
        """Have the log read beyond the follower: soon, together with every other follower
        that has news, in one pipelined round trip."""
        if follower.done:
            return
        self._stale[follower.run_id] = follower
        if self._fetcher is None or self._fetcher.done():
            self._fetcher = asyncio.create_task(self._fetch_stale(), name="follow-fetch")

    async def _fetch_stale(self) -> None:
        # One task reads for every follower of the process, batch after batch: a thousand
        # busy runs cost a few round trips, not a thousand competing reads.
        while self._stale:
            batch = [self._stale.pop(run_id) for run_id in list(self._stale)[:FETCH_BATCH]]

            async def read_logs(batch: list[_Follower] = batch) -> list[Any]:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for follower in batch:
                        log = self.log_key(follower.run_id)
                        if follower.base < 0:
                            pipe.xrevrange(log, count=1)
                        else:
                            pipe.xrange(log, min=f"{follower.last + 1}-0", count=FOLLOWER_READ)
                    return list(await pipe.execute())

            try:
                replies = await self.retrying(read_logs)
            except StoreUnavailable as exc:
                logger.warning("following %d runs stopped: %s", len(batch), exc)
                for follower in batch:
                    self._abandon(follower)
                continue
            for follower, entries in zip(batch, replies, strict=True):
                self._take(follower, entries)
            # As in the SSE layer: let a fast run's events gather into fewer, larger reads.
            await asyncio.sleep(COALESCE_SECONDS)

    def _take(self, follower: _Follower, entries: list[Any]) -> None:
        if follower.done:
            return
        if follower.base < 0:  # the first read: where the log ends now
            follower.base = _seq(entries[0][0]) if entries else 0
            follower.ready.set()
            if entries and _event(entries[0]).name == EventName.RUN_END:
                self._finish(follower)
            return
        if not entries:
            return
        follower.events.extend(_event(e) for e in entries)
        follower.wake()
        if follower.events[-1].name == EventName.RUN_END:
            self._finish(follower)
        elif len(entries) == FOLLOWER_READ:
            self._catch_up(follower)

    def _finish(self, follower: _Follower) -> None:
        follower.finish()
        self._chore(self._unlisten(self.appended_channel(follower.run_id)))

    async def _sweep(self) -> None:
        """Every few seconds, each followed run's last seq against its follower's: catches
        what an announcement lost in a reconnect would have said, and runs that expired."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            followers = [f for f in self._followers.values() if not f.done]
            for start in range(0, len(followers), SWEEP_BATCH):
                chunk = followers[start : start + SWEEP_BATCH]

                async def last_seqs(chunk: list[_Follower] = chunk) -> list[Any]:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for follower in chunk:
                            pipe.hget(self.meta_key(follower.run_id), "events")
                        return list(await pipe.execute())

                try:
                    seqs = await self.retrying(last_seqs)
                except StoreUnavailable as exc:
                    logger.warning("following runs stopped: %s", exc)
                    for follower in followers:
                        self._abandon(follower)
                    break
                for follower, last in zip(chunk, seqs, strict=True):
                    if last is None:  # the run has expired
                        self._finish(follower)
                    elif follower.base < 0 or int(last) > follower.last:
                        self._catch_up(follower)

    def _abandon(self, follower: _Follower) -> None:
        # Redis has been away for longer than the retry window: the readers end their streams
        # cleanly (the clients resume with Last-Event-ID), and whoever reads next starts anew.
        follower.finish()
        if self._followers.get(follower.run_id) is follower:
            del self._followers[follower.run_id]
            self._chore(self._unlisten(self.appended_channel(follower.run_id)))

    def _chore(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _listener(self, channel: str) -> Listener:
        node = self.redis.get_node_from_key(channel).name if self.cluster else ""
        listener = self._listeners.get(node)
        if listener is None:
            options = dict(self._options)
            if self.cluster:
                host, port = node.rsplit(":", 1)
                options.update(host=host, port=int(port))
            client = Redis.from_pool(ConnectionPool(**options, socket_keepalive=True))
            listener = self._listeners[node] = Listener(
                client,
                sharded=self.cluster,
                on_message=self._on_message,
                on_subscribed=self._on_subscribed,
                on_moved=self._on_moved,
                on_unreachable=lambda: self._on_unreachable(node),
            )
        return listener

    async def _listen(self, channel: str) -> None:
        if self.cluster:
            await self._ensure_cluster()
        await self._listener(channel).subscribe(channel)

    async def _unlisten(self, channel: str) -> None:
        if self.cluster:
            await self._ensure_cluster()
        await self._listener(channel).unsubscribe(channel)

    async def _ensure_cluster(self) -> None:
        # The slot map is only known once the cluster client has connected.
        if not self.redis.get_nodes():
            with _reachable(self.url):
                await self.redis.initialize()

    def _on_message(self, channel: str, data: bytes) -> None:
        run_id, kind = _run_channel(channel)
        if kind == "appended":
            follower = self._followers.get(run_id)
            if follower is not None and int(data) > follower.last:
                self._catch_up(follower)
        elif kind == "control":
            message = data.decode()
            if message in CONTROL_KINDS:
                self._control.put_nowait((message, run_id))  # type: ignore[arg-type]

    def _on_unreachable(self, node: str) -> None:
        if node not in self._looking:
            self._looking.add(node)
            self._chore(self._look_where_channels_went(node))

    async def _look_where_channels_went(self, node: str) -> None:
        """A node this process listens on is unreachable: if the cluster now serves some of
        its slots elsewhere (a failover), listen to their channels there."""
        try:
            # Any node that answers gives the map; none answering leaves it as it was.
            with contextlib.suppress(*_UNREACHABLE, RedisClusterException):
                await self.redis.nodes_manager.initialize()
            listener = self._listeners.get(node)
            for channel in listener.wanted() if listener is not None else []:
                if self.redis.get_node_from_key(channel).name != node:
                    listener.move(channel)
        finally:
            self._looking.discard(node)

    def _on_moved(self, channel: str) -> None:
        self._chore(self._listen_where_it_went(channel))

    async def _listen_where_it_went(self, channel: str) -> None:
        run_id, kind = _run_channel(channel)
        with contextlib.suppress(StoreUnavailable):
            # A command on the run's slot teaches the cluster client where the slot lives now
            # (it follows the MOVED answer and updates its map).
            await self.retrying(lambda: self.redis.exists(self.meta_key(run_id)))
        wanted = run_id in self._followers if kind == "appended" else run_id in self._owned
        if wanted:
            logger.info("run %s's slot has moved: listening on its new node", run_id)
            await self._listen(channel)

    def _on_subscribed(self, channel: str) -> None:
        # After a reconnect too: whatever was announced meanwhile is lost, the log is not.
        run_id, kind = _run_channel(channel)
        follower = self._followers.get(run_id)
        if kind == "appended" and follower is not None:
            self._catch_up(follower)

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
        channel = self.control_channel(run_id)
        await self.retrying(
            lambda: self._publish(keys=[channel], args=[self._publish_command, kind])
        )

    async def control(self) -> AsyncIterator[tuple[ControlKind, str]]:
        while True:
            yield await self._control.get()

    async def claim_lost_runs(self) -> list[str]:
        assert self._watch is not None, "open() first"
        try:
            beats = await self.redis.hgetall(self.beats_key())
        except _UNREACHABLE as exc:
            self._watch.forget()
            raise StoreUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc
        others = {k.decode(): v for k, v in beats.items() if k.decode() != self._process_id}
        claimed: list[tuple[str, bool]] = []
        for process, value in self._watch.stopped(others, time.monotonic()):
            keys = [self.beats_key(), self.owned_key(process), self.owned_key(self._process_id)]
            with _reachable(self.url):
                runs = await self._claim(keys=keys, args=[process, value])
            if runs is not None:
                logger.warning("process %s has stopped: taking its %d runs", process, len(runs))
                claimed += ((run_id.decode(), False) for run_id in runs)
        with _reachable(self.url):
            handed = await self._claim_handed(
                keys=[self.handed_key(), self.owned_key(self._process_id)], args=[HANDED_BATCH]
            )
        claimed += ((run_id.decode(), True) for run_id in handed)
        self._owned.update(run_id for run_id, _ in claimed)
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
        for task in [self._sweeper, self._fetcher, *self._chores]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        for follower in self._followers.values():
            follower.finish()
        self._followers.clear()
        for listener in self._listeners.values():
            await listener.close()
        await self.redis.aclose()


def _run_channel(channel: str) -> tuple[str, str]:
    """(run id, kind) of a run's channel name: `sse-gateway:run:{<id>}:<kind>`."""
    tagged, _, kind = channel.rpartition(":")
    return tagged[tagged.index("{") + 1 : -1], kind


def _nothing() -> None:
    return None
