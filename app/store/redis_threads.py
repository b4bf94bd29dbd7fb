"""Threads in Redis: each thread's record, queue and runs under its own hash tag, changed by
Lua scripts so that runs racing on one thread from several processes see one order.

Keys (under `sse-gateway:`):
- `thread:{<id>}`            hash: created_at, updated_at, metadata and interrupts (JSON),
                             status, active (the active run), implicit, expires_at
- `thread:{<id>}:queue`      list: the runs waiting their turn, first to start first
- `thread:{<id>}:runs`       list: every run of the thread, newest first
- `thread:{<id>}:summaries`  hash: run → its summary (status, created/ended times)
- `{expiring:<n>}`           sorted sets, 16 shards: threads made for one-shot runs → when
                             they expire
- `threads`                  sorted set: the threads created on purpose → when (ms), for search
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING, Any

import orjson

from app.events import RunStatus
from app.store.base import (
    THREAD_STATUS_AFTER,
    MultitaskStrategy,
    RunRecord,
    ThreadBusy,
    ThreadMissing,
    ThreadRecord,
    ThreadStatus,
    ThreadTurn,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "sse-gateway:"
INDEX_KEY = f"{PREFIX}threads"
EXPIRY_SHARDS = 16
EXPIRY_BATCH = 100

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
# A new run on a thread: it starts at once on an idle thread; on a busy one it is refused
# (reject), queued first while the active run is cancelled (interrupt), or queued last.
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local active = redis.call('HGET', KEYS[1], 'active') or ''
local queued = redis.call('LLEN', KEYS[2])
local busy = active ~= '' or queued > 0
if busy and ARGV[2] == 'reject' then return {'busy', active, queued} end
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3], 'expires_at', '')
if not busy then
  redis.call('HSET', KEYS[1], 'active', ARGV[1], 'status', 'busy', 'interrupts', '[]', 'error', '')
  return {'started'}
end
if ARGV[2] == 'interrupt' then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return {'queued', active}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {'queued', ''}
"""
# A run has ended: the next queued run becomes active, or the thread takes the status the run
# left. Returns {next run or '', 1 when the thread now expires}.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'', 0} end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
if redis.call('HGET', KEYS[1], 'active') ~= ARGV[1] then
  redis.call('LREM', KEYS[2], 0, ARGV[1])
  return {'', 0}
end
local next = redis.call('LPOP', KEYS[2])
if next then
  redis.call('HSET', KEYS[1], 'active', next, 'status', 'busy', 'interrupts', '[]', 'error', '')
  return {next, 0}
end
redis.call('HSET', KEYS[1], 'active', '', 'status', ARGV[2])
redis.call('HSET', KEYS[1], 'interrupts', ARGV[3], 'error', ARGV[7])
if redis.call('HGET', KEYS[1], 'implicit') == '1' and ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[6])
  return {'', 1}
end
return {'', 0}
"""
# Changes to a thread's record made outside a run, refused while a run holds it.
_RESET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (redis.call('HGET', KEYS[1], 'active') or '') ~= '' or redis.call('LLEN', KEYS[2]) > 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'interrupts', ARGV[2], 'error', '')
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
return 1
"""
_SET_METADATA = """
if redis.call('HGET', KEYS[1], 'metadata') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'metadata', ARGV[2], 'updated_at', ARGV[3])
return 1
"""
_DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local active = redis.call('HGET', KEYS[1], 'active') or ''
local queued = redis.call('LLEN', KEYS[2])
if active ~= '' or queued > 0 then return {'busy', active, queued} end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {'deleted'}
"""
# Deletes an expired thread unless a run has taken it since; returns its expiry when that has
# moved on (the thread ran again), so the caller files it again.
_EXPIRE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local at = tonumber(redis.call('HGET', KEYS[1], 'expires_at'))
if at == nil then return 0 end
if at > tonumber(ARGV[1]) then return tostring(at) end
if (redis.call('HGET', KEYS[1], 'active') or '') ~= '' then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""


def _keys(thread_id: str) -> list[str]:
    base = f"{PREFIX}thread:{{{thread_id}}}"
    return [base, f"{base}:queue", f"{base}:runs", f"{base}:summaries"]


def _expiry_key(thread_id: str) -> str:
    return f"{PREFIX}{{expiring:{zlib.crc32(thread_id.encode()) % EXPIRY_SHARDS}}}"


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


class RedisThreads:
    """The thread half of the Redis store (mixed into RedisStore, which provides `redis`,
    `retrying` and the run records)."""

    if TYPE_CHECKING:
        redis: Redis

        async def retrying(self, call: Any) -> Any: ...

        async def get_run(self, run_id: str) -> RunRecord | None: ...

    def __init__(self) -> None:
        self._create_thread = self.redis.register_script(_CREATE)
        self._begin = self.redis.register_script(_BEGIN)
        self._finish_run = self.redis.register_script(_FINISH)
        self._delete_thread = self.redis.register_script(_DELETE)
        self._expire = self.redis.register_script(_EXPIRE)
        self._reset = self.redis.register_script(_RESET)
        self._set_metadata = self.redis.register_script(_SET_METADATA)

    async def create_thread(self, record: ThreadRecord) -> bool:
        fields = {
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "metadata": _json(record.metadata),
            "status": str(record.status),
            "interrupts": b"[]",
            "active": "",
            "implicit": "1" if record.implicit else "0",
            "expires_at": "",
            "error": "",
            "principal": record.principal or "",
        }
        args = [item for pair in fields.items() for item in pair]
        keys = _keys(record.thread_id)[:1]
        created = bool(await self.retrying(lambda: self._create_thread(keys=keys, args=args)))
        if created and not record.implicit:
            score = int(time.time() * 1000)
            await self.retrying(lambda: self.redis.zadd(INDEX_KEY, {record.thread_id: score}))
        return created

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        thread_key, queue_key, *_ = _keys(thread_id)

        async def read() -> list[Any]:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(thread_key)
                pipe.lrange(queue_key, 0, -1)
                return await pipe.execute()  # type: ignore[no-any-return]

        fields, queued = await self.retrying(read)
        if not fields:
            return None
        text = {k.decode(): v.decode() for k, v in fields.items()}
        return ThreadRecord(
            thread_id=thread_id,
            created_at=text["created_at"],
            updated_at=text["updated_at"],
            metadata=orjson.loads(text["metadata"]),
            status=ThreadStatus(text["status"]),
            interrupts=orjson.loads(text["interrupts"]),
            active_run=text["active"] or None,
            queued=[run_id.decode() for run_id in queued],
            expires_at=float(text["expires_at"]) if text["expires_at"] else None,
            implicit=text["implicit"] == "1",
            error=orjson.loads(text["error"]) if text.get("error") else None,
            principal=text.get("principal") or None,
        )

    async def delete_thread(self, thread_id: str) -> bool:
        keys = _keys(thread_id)
        reply = await self.retrying(lambda: self._delete_thread(keys=keys))
        if reply[0] == b"busy":
            raise ThreadBusy(thread_id, reply[1].decode() or None, int(reply[2]))
        await self.retrying(lambda: self.redis.zrem(INDEX_KEY, thread_id))
        return bool(reply[0] == b"deleted")

    async def begin_thread_run(
        self, thread_id: str, run: RunRecord, strategy: MultitaskStrategy
    ) -> ThreadTurn:
        keys = _keys(thread_id)
        args = [run.run_id, str(strategy), run.created_at, _json(run.summary())]
        reply = await self.retrying(lambda: self._begin(keys=keys, args=args))
        outcome = reply[0]
        if outcome == b"missing":
            raise ThreadMissing(thread_id)
        if outcome == b"busy":
            raise ThreadBusy(thread_id, reply[1].decode() or None, int(reply[2]))
        if outcome == b"started":
            return ThreadTurn(started=True)
        return ThreadTurn(started=False, cancel=reply[1].decode() or None)

    async def finish_thread_run(
        self,
        thread_id: str,
        run: RunRecord,
        interrupts: list[dict[str, Any]],
        error: dict[str, Any] | None,
        expires_at: float | None,
    ) -> str | None:
        keys = _keys(thread_id)
        after = THREAD_STATUS_AFTER.get(run.status, ThreadStatus.IDLE)
        args = [
            run.run_id,
            str(after),
            _json(interrupts),
            run.ended_at or "",
            _json(run.summary()),
            "" if expires_at is None else repr(expires_at),
            _json(error) if error else "",
        ]
        next_run, expiring = await self.retrying(lambda: self._finish_run(keys=keys, args=args))
        if expiring and expires_at is not None:
            await self.retrying(
                lambda: self.redis.zadd(_expiry_key(thread_id), {thread_id: expires_at})
            )
        return next_run.decode() or None

    async def list_threads(self, principal: str | None) -> list[ThreadRecord]:
        ids = await self.retrying(lambda: self.redis.zrevrange(INDEX_KEY, 0, -1))
        threads = [await self.get_thread(thread_id.decode()) for thread_id in ids]
        return [t for t in threads if t is not None and t.principal == principal]

    async def update_thread(
        self, thread_id: str, metadata: dict[str, Any], updated_at: str
    ) -> ThreadRecord | None:
        key = _keys(thread_id)[0]
        while True:  # a compare-and-set: another update in between means merging again
            current = await self.retrying(lambda: self.redis.hget(key, "metadata"))
            if current is None:
                return None
            merged = _json({**orjson.loads(current), **metadata})
            args = [current, merged, updated_at]
            if await self.retrying(lambda args=args: self._set_metadata(keys=[key], args=args)):
                return await self.get_thread(thread_id)

    async def reset_thread(
        self,
        thread_id: str,
        status: ThreadStatus,
        interrupts: list[dict[str, Any]],
        updated_at: str,
    ) -> bool:
        keys = _keys(thread_id)[:2]
        args = [str(status), _json(interrupts), updated_at]
        return bool(await self.retrying(lambda: self._reset(keys=keys, args=args)))

    async def forget_thread_run(self, thread_id: str, run_id: str) -> None:
        _, _, runs_key, summaries_key = _keys(thread_id)

        async def forget() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrem(runs_key, 0, run_id)
                pipe.hdel(summaries_key, run_id)
                await pipe.execute()

        await self.retrying(forget)

    async def thread_runs(self, thread_id: str) -> list[dict[str, Any]]:
        _, _, runs_key, summaries_key = _keys(thread_id)

        async def read() -> list[Any]:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrange(runs_key, 0, -1)
                pipe.hgetall(summaries_key)
                return await pipe.execute()  # type: ignore[no-any-return]

        order, summaries = await self.retrying(read)
        runs = [orjson.loads(summaries[run_id]) for run_id in order if run_id in summaries]
        for summary in runs:
            if not RunStatus(summary["status"]).finished:
                # Its summary is written when it begins and when it ends: ask the run itself.
                record = await self.get_run(summary["run_id"])
                if record is not None:
                    summary["status"] = record.status
        return runs

    async def claim_expired_threads(self, now: float) -> list[str]:
        claimed: list[str] = []
        for shard in range(EXPIRY_SHARDS):
            key = f"{PREFIX}{{expiring:{shard}}}"
            due = await self.retrying(
                lambda key=key: self.redis.zrangebyscore(key, "-inf", now, 0, EXPIRY_BATCH)
            )
            for member in due:
                thread_id = member.decode()
                # ZREM answers 1 to one process only: that one expires the thread.
                if not await self.retrying(lambda k=key, m=member: self.redis.zrem(k, m)):
                    continue
                keys = _keys(thread_id)
                outcome = await self.retrying(
                    lambda keys=keys: self._expire(keys=keys, args=[repr(now)])
                )
                if outcome == 1:
                    claimed.append(thread_id)
                elif isinstance(outcome, bytes):  # ran again since: file it at its new time
                    await self.retrying(
                        lambda k=key, m=member, at=float(outcome): self.redis.zadd(k, {m: at})
                    )
        return claimed
