from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict

from app.payload import TRUNCATED_PREVIEW_CHARS, dumps, dumps_bounded

LINE_BREAKS = ["\u2028", "\u2029", "\u0085", "\x00", "\r", "\n"]
RAW_FORBIDDEN = [b"\n", b"\r", b"\x00", *(c.encode() for c in ("\u2028", "\u2029", "\u0085"))]
FIELDS = {"run_id": "r1", "seq": 3, "ts": 1700000000000, "node": "write"}


def loads(value: Any) -> Any:
    return json.loads(dumps(value))


def assert_one_safe_line(out: bytes) -> None:
    assert [raw for raw in RAW_FORBIDDEN if raw in out] == []


class Point(BaseModel):
    x: int
    at: datetime
    tags: set[str]


class Opaque:
    def __str__(self) -> str:
        return "opaque!"


class Blob:
    def __repr__(self) -> str:
        return "Blob()"


class Holder(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    blob: Blob

    def __repr__(self) -> str:
        return "Holder(blob=Blob())"


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")


class Exported:
    def to_dict(self) -> dict[str, int]:
        return {"a": 1}


class ExportFails:
    def to_dict(self) -> dict[str, int]:
        raise ValueError("nope")

    def __str__(self) -> str:
        return "export-fails"


@dataclass
class Pair:
    left: int
    right: bytes


class AppError(Exception):
    pass


AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            Point(x=1, at=AT, tags={"a"}),
            {"x": 1, "at": "2024-01-02T03:04:05Z", "tags": ["a"]},
            id="pydantic",
        ),
        pytest.param(Holder(blob=Blob()), "Holder(blob=Blob())", id="pydantic-dump-fails"),
        pytest.param(Pair(1, b"hi"), {"left": 1, "right": "hi"}, id="dataclass"),
        pytest.param({3, 1, 2}, [1, 2, 3], id="set"),
        pytest.param(frozenset({"b", "a"}), ["a", "b"], id="frozenset"),
        pytest.param({1, "a"}, ["a", 1], id="mixed-set-by-repr"),
        pytest.param("café".encode(), "café", id="bytes-utf8"),
        pytest.param(b"\xff\xfe\x00", {"base64": "//4A"}, id="bytes-not-utf8"),
        pytest.param(bytearray(b"hi"), "hi", id="bytearray"),
        pytest.param(memoryview(b"hi"), "hi", id="memoryview"),
        pytest.param(AT, "2024-01-02T03:04:05+00:00", id="datetime-aware"),
        pytest.param(datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05", id="datetime-naive"),
        pytest.param(date(2024, 1, 2), "2024-01-02", id="date"),
        pytest.param(ValueError("bad"), {"type": "ValueError", "message": "bad"}, id="exception"),
        pytest.param(AppError(), {"type": "AppError", "message": ""}, id="exception-no-message"),
        pytest.param(
            {1: "int", None: "none", 2.5: "float", AT: "dt", ID: "uuid"},
            {
                "1": "int",
                "null": "none",
                "2.5": "float",
                "2024-01-02T03:04:05+00:00": "dt",
                "12345678-1234-5678-1234-567812345678": "uuid",
            },
            id="non-str-keys",
        ),
        pytest.param(MappingProxyType({"a": 1}), {"a": 1}, id="mapping"),
        pytest.param(Exported(), {"a": 1}, id="to-dict"),
        pytest.param(ExportFails(), "export-fails", id="to-dict-fails"),
        pytest.param(Opaque(), "opaque!", id="unknown-object"),
        pytest.param({"k": [Opaque()]}, {"k": ["opaque!"]}, id="unknown-object-nested"),
        pytest.param(BadStr(), "<unserializable BadStr>", id="str-raises"),
        pytest.param(
            {"bad": BadStr(), "ok": 1},
            {"bad": "<unserializable BadStr>", "ok": 1},
            id="str-raises-nested",
        ),
    ],
)
def test_dumps_fallbacks(value: Any, expected: Any) -> None:
    assert loads(value) == expected


def test_dumps_ai_message() -> None:
    message = AIMessage(
        content="hello",
        id="m1",
        tool_calls=[{"name": "lookup", "args": {"topic": "x"}, "id": "c1"}],
        usage_metadata={"input_tokens": 8, "output_tokens": 3, "total_tokens": 11},
    )

    loaded = loads({"update": {"messages": [message]}})

    [out] = loaded["update"]["messages"]
    assert (out["type"], out["content"], out["id"]) == ("ai", "hello", "m1")
    assert out["tool_calls"] == [
        {"name": "lookup", "args": {"topic": "x"}, "id": "c1", "type": "tool_call"}
    ]
    assert out["usage_metadata"] == {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}


def cyclic_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def cyclic_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"n": 1}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(cyclic_list(), {"unserializable": "[1, [...]]"}, id="cyclic-list"),
        pytest.param(2**70, {"unserializable": "1180591620717411303424"}, id="huge-int"),
        pytest.param(
            {"loop": cyclic_list(), "ok": 1},
            {"loop": {"unserializable": "[1, [...]]"}, "ok": 1},
            id="cyclic-list-field",
        ),
        pytest.param(
            {2: 2**70, "ok": [1]},
            {"2": {"unserializable": "1180591620717411303424"}, "ok": [1]},
            id="huge-int-field",
        ),
    ],
)
def test_dumps_unserializable_becomes_its_repr(value: Any, expected: Any) -> None:
    assert loads(value) == expected


@pytest.mark.parametrize("top", [True, False], ids=["top-level", "field"])
def test_dumps_cyclic_dict(top: bool) -> None:
    value = cyclic_dict() if top else {**FIELDS, "update": cyclic_dict()}

    out = dumps(value)

    assert "{...}" in out.decode()
    if not top:
        assert {key: json.loads(out)[key] for key in FIELDS} == FIELDS


@pytest.mark.parametrize("char", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_line_breaks_never_appear_raw(char: str) -> None:
    text = f"a{char}b{char}"
    value = {"text": text, f"key{char}": [text], "error": ValueError(text), "raw": text.encode()}

    out = dumps(value)

    assert_one_safe_line(out)
    assert json.loads(out) == {
        "text": text,
        f"key{char}": [text],
        "error": {"type": "ValueError", "message": text},
        "raw": text,
    }


def test_line_breaks_escaped_in_unserializable_fallback() -> None:
    value = ["\u2028\u2029\u0085\x00\r\n", cyclic_list()]

    out = dumps(value)

    assert_one_safe_line(out)
    assert json.loads(out) == {"unserializable": repr(value)}


def test_neighbouring_characters_stay_raw() -> None:
    text = "\u2027\u2026\u202a€Å\u0080\u0084\u0086"

    out = dumps(text)

    assert out == b'"' + text.encode() + b'"'
    assert json.loads(out) == text


@pytest.mark.parametrize("limit", [len(dumps(FIELDS)), 65_536])
def test_bounded_small_payload_is_unchanged(limit: int) -> None:
    assert dumps_bounded(FIELDS, limit) == (
        b'{"run_id":"r1","seq":3,"ts":1700000000000,"node":"write"}'
    )


def test_bounded_replaces_the_largest_field_only() -> None:
    fields = {**FIELDS, "update": "x" * 6000, "input": "y" * 3000}

    out = dumps_bounded(fields, 4000)

    assert len(out) <= 4000
    loaded = json.loads(out)
    preview = loaded["update"].pop("preview")
    assert loaded == {**FIELDS, "update": {"truncated": True, "bytes": 6002}, "input": "y" * 3000}
    assert preview.startswith('"xxx') and len(preview) >= TRUNCATED_PREVIEW_CHARS - 4


def test_bounded_replaces_fields_largest_first_until_under_limit() -> None:
    fields = {**FIELDS, "a": "a" * 3000, "b": "b" * 5000, "c": "c" * 4000}

    out = dumps_bounded(fields, 5000)

    assert len(out) <= 5000
    loaded = json.loads(out)
    assert [key for key, value in loaded.items() if isinstance(value, dict)] == ["b", "c"]
    assert (loaded["b"]["bytes"], loaded["c"]["bytes"]) == (5002, 4002)
    assert loaded["a"] == "a" * 3000
    assert {key: loaded[key] for key in FIELDS} == FIELDS


@pytest.mark.parametrize(
    "big",
    [
        pytest.param("x" * 10_000, id="ascii"),
        pytest.param("é" * 5_000, id="two-byte"),
        pytest.param("\u2028" * 3_000, id="line-separators"),
        pytest.param("a\n" * 4_000, id="newlines"),
        pytest.param(json.dumps([{"k": i, "v": "val"} for i in range(500)]), id="json-text"),
        pytest.param({"rows": list(range(5_000))}, id="dict"),
        pytest.param('"' * 5_000, id="quotes"),
        pytest.param("\\" * 5_000, id="backslashes"),
    ],
)
def test_bounded_result_fits_the_minimum_limit(big: Any) -> None:
    out = dumps_bounded({**FIELDS, "data": big}, 1024)

    assert len(out) <= 1024
    assert_one_safe_line(out)
    loaded = json.loads(out)
    assert {key: loaded[key] for key in FIELDS} == FIELDS
    assert loaded["data"]["truncated"] is True
    assert loaded["data"]["bytes"] == len(dumps(big))
    preview = loaded["data"]["preview"]
    assert len(preview) >= TRUNCATED_PREVIEW_CHARS // 4
    assert dumps(big)[:TRUNCATED_PREVIEW_CHARS].decode("utf-8", "ignore").startswith(preview)
    assert len(dumps(preview)) <= TRUNCATED_PREVIEW_CHARS + 2
