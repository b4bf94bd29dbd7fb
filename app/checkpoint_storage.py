"""The bytes a thread's checkpoints occupy in the checkpointer, as stored: its checkpoints, its
channel values (per channel) and its pending writes, in LangGraph's ThreadStorage shape.

Read where the saver's storage can be: the in-memory saver's dicts, and LangGraph's SQLite and
PostgreSQL tables by SQL. What is counted is the serialized bytes each saver keeps (a value the
in-memory saver keeps by reference, unserialized, counts 0; SQLite keeps channel values inside
each checkpoint, so it has no channel-value rows of its own).
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

Storage = dict[str, Any]


class NotMeasurable(Exception):
    """The saver's storage is not one the gateway can read (a graph's own checkpointer)."""


async def thread_storage(saver: BaseCheckpointSaver[Any], thread_id: str) -> Storage:
    if isinstance(saver, InMemorySaver):
        return _in_memory(saver, thread_id)
    if isinstance(saver, AsyncSqliteSaver):
        return await _sqlite(saver, thread_id)
    if isinstance(saver, AsyncPostgresSaver):
        return await _postgres(saver, thread_id)
    raise NotMeasurable(type(saver).__name__)


def _report(
    checkpoints: tuple[int, int], by_channel: dict[str, dict[str, int]], writes: tuple[int, int]
) -> Storage:
    channel_bytes = sum(entry["bytes"] for entry in by_channel.values())
    return {
        "total_bytes": checkpoints[1] + channel_bytes + writes[1],
        "checkpoints": {"count": checkpoints[0], "bytes": checkpoints[1]},
        "channel_values": {
            "count": sum(entry["versions"] for entry in by_channel.values()),
            "bytes": channel_bytes,
            "by_channel": by_channel,
        },
        "pending_writes": {"count": writes[0], "bytes": writes[1]},
    }


def _nbytes(value: Any) -> int:
    # The saver keeps `(type, bytes)` pairs inside tuples; names and ids are not the data.
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(_nbytes(item) for item in value)
    return 0


def _in_memory(saver: InMemorySaver, thread_id: str) -> Storage:
    by_channel: dict[str, dict[str, int]] = {}
    for (tid, _ns, channel, _version), blob in list(saver.blobs.items()):
        if tid == thread_id:
            entry = by_channel.setdefault(channel, {"versions": 0, "bytes": 0})
            entry["versions"] += 1
            entry["bytes"] += _nbytes(blob)
    stored = [c for ns in saver.storage.get(thread_id, {}).values() for c in ns.values()]
    writes = [
        write
        for (tid, _ns, _checkpoint), by_task in list(saver.writes.items())
        if tid == thread_id
        for write in by_task.values()
    ]
    return _report(
        (len(stored), sum(map(_nbytes, stored))),
        by_channel,
        (len(writes), sum(map(_nbytes, writes))),
    )


async def _sqlite(saver: AsyncSqliteSaver, thread_id: str) -> Storage:
    async with saver.lock:
        cursor = await saver.conn.execute(
            "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0) "
            "FROM checkpoints WHERE thread_id = ?",
            (thread_id,),
        )
        checkpoints = await cursor.fetchone()
        cursor = await saver.conn.execute(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?",
            (thread_id,),
        )
        writes = await cursor.fetchone()
    assert checkpoints is not None and writes is not None
    return _report((checkpoints[0], checkpoints[1]), {}, (writes[0], writes[1]))


async def _postgres(saver: AsyncPostgresSaver, thread_id: str) -> Storage:
    # The checkpoint and its metadata are JSONB: counted as their JSON text. The saver's own
    # cursor takes a connection from its pool (or its one connection, under its lock).
    async with saver._cursor() as cursor:
        await cursor.execute(
            "SELECT count(*) AS count, coalesce(sum(octet_length(checkpoint::text) "
            "+ octet_length(metadata::text)), 0) AS bytes FROM checkpoints WHERE thread_id = %s",
            (thread_id,),
        )
        checkpoints = await cursor.fetchone()
        await cursor.execute(
            "SELECT channel, count(*) AS versions, coalesce(sum(octet_length(blob)), 0) AS bytes "
            "FROM checkpoint_blobs WHERE thread_id = %s GROUP BY channel ORDER BY channel",
            (thread_id,),
        )
        channels = await cursor.fetchall()
        await cursor.execute(
            "SELECT count(*) AS count, coalesce(sum(octet_length(blob)), 0) AS bytes "
            "FROM checkpoint_writes WHERE thread_id = %s",
            (thread_id,),
        )
        writes = await cursor.fetchone()
    assert checkpoints is not None and writes is not None
    by_channel = {
        row["channel"]: {"versions": int(row["versions"]), "bytes": int(row["bytes"])}
        for row in channels
    }
    return _report(
        (int(checkpoints["count"]), int(checkpoints["bytes"])),
        by_channel,
        (int(writes["count"]), int(writes["bytes"])),
    )
