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


def dumps(value: Any, *, _depth: int = 0) -> bytes:
    """JSON for any value: unknown objects fall back to their string, never an exception."""
    try:
        raw = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Cycles and integers beyond 64 bits: keep what does serialize, one level down
        # (once: a dict that contains itself must not recurse forever).
        if isinstance(value, dict) and _depth == 0:
            raw = b"{%s}" % b",".join(
                orjson.dumps(str(k)) + b":" + dumps(v, _depth=1) for k, v in value.items()
            )
        else:
            raw = orjson.dumps({"unserializable": _safe_repr(value)})
    return _escape_line_breaks(raw)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:TRUNCATED_PREVIEW_CHARS]
    except Exception:
        return f"<{type(value).__name__}>"


def _marker(encoded: bytes) -> dict[str, Any]:
    preview = encoded[:TRUNCATED_PREVIEW_CHARS].decode(errors="ignore")
    # Quotes and backslashes are escaped again inside the marker: keep it within bounds.
    limit = TRUNCATED_PREVIEW_CHARS + 2
    while (size := len(dumps(preview))) > limit:
        preview = preview[: len(preview) - max(1, (size - limit) // 2)]
    return {"truncated": True, "bytes": len(encoded), "preview": preview}


def dumps_bounded(fields: dict[str, Any], max_bytes: int, keep: tuple[str, ...] = ()) -> bytes:
    """`dumps(fields)`, with the largest values replaced by a truncation marker while the
    whole object is over `max_bytes`; at worst only the `keep` fields and a marker remain."""
    raw = dumps(fields)
    if len(raw) <= max_bytes:
        return raw
    encoded = {k: dumps(v) for k, v in fields.items() if k not in keep}
    bounded = dict(fields)
    total = len(raw)
    for key in sorted(encoded, key=lambda k: len(encoded[k]), reverse=True):
        if total <= max_bytes or len(encoded[key]) <= TRUNCATED_PREVIEW_CHARS:
            break
        bounded[key] = _marker(encoded[key])
        total -= len(encoded[key]) - len(dumps(bounded[key]))
    result = dumps(bounded)
    if len(result) > max_bytes:
        result = dumps(
            {**{k: fields[k] for k in keep if k in fields}, "truncated": True, "bytes": len(raw)}
        )
    return result
