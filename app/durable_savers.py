"""The SQLite and PostgreSQL savers, with a failure to store a state value said plainly.

LangGraph's serializer fails with `Type is not msgpack serializable: X`, which names neither
the state key nor what to do. These savers catch that at their public `aput`/`aput_writes`,
find the channel whose value does not encode, and raise `UnstorableState` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver


class UnstorableState(TypeError):
    """A state value the durable checkpointer cannot serialize; the message is one line."""

    def __init__(self, channel: str, part: Any, checkpointer: str) -> None:
        kind = type(part)
        name = kind.__qualname__
        if kind.__module__ != "builtins":
            name = f"{kind.__module__}.{name}"
        super().__init__(
            f"state key {channel!r} holds a {name}, which the {checkpointer} checkpointer cannot "
            "store: make it serializable (JSON types, LangChain messages, pydantic models, "
            "dataclasses), keep it out of the graph's state, or serve the graph with "
            "GATEWAY_CHECKPOINTER=memory:// (one process, memory store) or none (no threads)"
        )
        self.channel = channel
        self.type_name = name


def _fails(serde: SerializerProtocol, value: Any) -> bool:
    try:
        serde.dumps_typed(value)
    except Exception:
        return True
    return False


def _unstorable_part(serde: SerializerProtocol, value: Any) -> Any:
    """The innermost value in `value` that does not serialize (or `value` itself)."""
    items: Iterable[Any] = ()
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    for item in items:
        if _fails(serde, item):
            return _unstorable_part(serde, item)
    return value


def _explain(
    serde: SerializerProtocol, values: Iterable[tuple[str, Any]], checkpointer: str
) -> UnstorableState | None:
    for channel, value in values:
        if _fails(serde, value):
            return UnstorableState(channel, _unstorable_part(serde, value), checkpointer)
    return None


class _ExplainsUnstorableState(BaseCheckpointSaver[Any]):
    checkpointer_name = "durable"

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        try:
            return await super().aput(config, checkpoint, metadata, new_versions)
        except TypeError as exc:
            values = checkpoint.get("channel_values", {}).items()
            explained = _explain(self.serde, values, self.checkpointer_name)
            if explained is None:
                raise
            raise explained from exc

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        try:
            await super().aput_writes(config, writes, task_id, task_path)
        except TypeError as exc:
            explained = _explain(self.serde, writes, self.checkpointer_name)
            if explained is None:
                raise
            raise explained from exc


class ExplainedSqliteSaver(_ExplainsUnstorableState, AsyncSqliteSaver):
    checkpointer_name = "SQLite"


class ExplainedPostgresSaver(_ExplainsUnstorableState, AsyncPostgresSaver):
    checkpointer_name = "PostgreSQL"
