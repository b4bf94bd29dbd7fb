"""Records in Redis: JSON documents by kind (assistants), one hash a kind, written by a Lua
script that compares revisions, so that two processes changing one record see one order.

Keys (under `sse-gateway:`):
- `records:{<kind>}`  hash: key → the record (JSON), its `revision` counting its writes
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "sse-gateway:"

# ARGV: key, the record, the revision it replaces ('' for a new record).
_PUT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] == '' then
  if current then return 0 end
else
  if not current then return 0 end
  if tostring(cjson.decode(current)['revision']) ~= ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def _key(kind: str) -> str:
    return f"{PREFIX}records:{{{kind}}}"


class RedisRecords:
    """The record half of the Redis store (mixed into RedisStore, which provides `redis` and
    `retrying`)."""

    if TYPE_CHECKING:
        redis: Redis

        async def retrying(self, call: Any) -> Any: ...

    def __init__(self) -> None:
        self._put_record = self.redis.register_script(_PUT)

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = await self.retrying(lambda: self.redis.hget(_key(kind), key))
        return None if raw is None else orjson.loads(raw)  # type: ignore[no-any-return]

    async def list_records(self, kind: str) -> list[dict[str, Any]]:
        found = await self.retrying(lambda: self.redis.hvals(_key(kind)))
        return [orjson.loads(raw) for raw in found]

    async def put_record(
        self, kind: str, key: str, value: dict[str, Any], *, revision: int | None
    ) -> bool:
        args = [key, orjson.dumps(value), "" if revision is None else str(revision)]
        written = await self.retrying(lambda: self._put_record(keys=[_key(kind)], args=args))
        return bool(written)

    async def delete_record(self, kind: str, key: str) -> bool:
        return bool(await self.retrying(lambda: self.redis.hdel(_key(kind), key)))
