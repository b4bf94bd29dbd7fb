"""How the in-memory checkpointer keeps values LangGraph's serializer cannot encode: as they are.

The in-memory saver lives in the gateway's own process, so a value that msgpack cannot encode
(a client, a lock, an open file) can stay the very object the graph put in its state: no copy,
no pickle, nothing that could fail.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

KEPT_TYPE = "gateway-in-process"


class _KeptObject(bytes):
    """Empty bytes carrying the object itself: the saver stores `(type, bytes)` pairs and
    hands the same pair back, so the object lives exactly as long as its checkpoint."""

    value: Any


class InProcessSerializer(JsonPlusSerializer):
    """LangGraph's serializer, except that what it cannot encode is kept by reference.

    A subclass rather than a wrapper: LangGraph derives allowlisted copies of a
    `JsonPlusSerializer` (`with_msgpack_allowlist`), and warns about any other serializer."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        try:
            return super().dumps_typed(obj)
        except Exception:
            kept = _KeptObject()
            kept.value = obj
            return KEPT_TYPE, kept

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, raw = data
        if type_ == KEPT_TYPE and isinstance(raw, _KeptObject):
            return raw.value
        return super().loads_typed(data)
