"""Turn whatever a graph produces into one line of JSON that cannot break SSE framing."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
# orjson leaves these unescaped (valid JSON), but many line readers split on them, and
# U+2028/U+2029 end lines in JavaScript source: escape them so every client sees one line.
_LINE_BREAKS = (
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
    ("\u0085".encode(), b"\\u0085"),
)
TRUNCATED_PREVIEW_CHARS = 512


def _default(obj: Any) -> Any:
    try:
        return _jsonable(obj)
    except Exception:
        return f"<unserializable {type(obj).__name__}>"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        try:
            return obj.model_dump(mode="json")
        except Exception:
            return repr(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes | bytearray | memoryview):
        raw = bytes(obj)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": str(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "_asdict", None) or getattr(obj, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict()
        except Exception:
            pass
    return str(obj)


def _escape_line_breaks(raw: bytes) -> bytes:
    if b"\xe2\x80" in raw or b"\xc2\x85" in raw:
        for char, escaped in _LINE_BREAKS:
            raw = raw.replace(char, escaped)
    return raw


def dumps(value: Any) -> bytes:
    """JSON for any value: unknown objects fall back to their string, never an exception."""
    try:
        raw = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Cycles and integers beyond 64 bits: keep what does serialize, one level down.
        if isinstance(value, dict):
            raw = b"{%s}" % b",".join(
                orjson.dumps(str(k)) + b":" + dumps(v) for k, v in value.items()
            )
        else:
            raw = orjson.dumps({"unserializable": _safe_repr(value)})
    return _escape_line_breaks(raw)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:TRUNCATED_PREVIEW_CHARS]
    except Exception:
        return f"<{type(value).__name__}>"


def dumps_bounded(fields: dict[str, Any], max_bytes: int) -> bytes:
    """`dumps(fields)`, with the largest values replaced by a truncation marker while the
    whole object is over `max_bytes`."""
    raw = dumps(fields)
    if len(raw) <= max_bytes:
        return raw
    sizes = sorted(((len(dumps(v)), k) for k, v in fields.items()), reverse=True)
    bounded = dict(fields)
    total = len(raw)
    for size, key in sizes:
        if total <= max_bytes or size <= TRUNCATED_PREVIEW_CHARS:
            break
        preview = dumps(fields[key])[:TRUNCATED_PREVIEW_CHARS].decode(errors="ignore")
        bounded[key] = {"truncated": True, "bytes": size, "preview": preview}
        total -= size - len(dumps(bounded[key]))
    return dumps(bounded)
