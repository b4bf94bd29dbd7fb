"""The gateway's event vocabulary, its ids, and the one encoding of an event on the wire."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from app.payload import dumps, dumps_bounded


class EventName(StrEnum):
    RUN_START = "run.start"
    NODE_START = "node.start"
    NODE_END = "node.end"
    NODE_ERROR = "node.error"
    TOKEN = "token"
    LLM_END = "llm.end"
    TOOL_START = "tool.start"
    TOOL_END = "tool.end"
    CUSTOM = "custom"
    STREAM_GAP = "stream.gap"
    RUN_ATTEMPT = "run.attempt"
    RUN_INTERRUPT = "run.interrupt"
    RUN_ERROR = "run.error"
    RUN_END = "run.end"


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # paused at interrupt(): its thread waits to be resumed

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


ENVELOPE = ("run_id", "seq", "ts")
EVENT_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_EVENT_ID_RE = re.compile(r"([A-Za-z0-9_-]{1,100})\.([0-9]{1,18})")


class InvalidEventId(ValueError):
    pass


def event_id(run_id: str, seq: int) -> str:
    return f"{run_id}.{seq}"


def parse_event_id(value: str) -> tuple[str, int]:
    """`<run_id>.<seq>` → (run_id, seq)."""
    match = _EVENT_ID_RE.fullmatch(value.strip())
    if match is None:
        raise InvalidEventId(f"malformed event id {value[:140]!r}: expected '<run_id>.<seq>'")
    return match[1], int(match[2])


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a run's log, kept as the exact bytes every reader sends."""

    seq: int
    name: str
    frame: bytes


def encode_event(
    run_id: str, seq: int, name: str, fields: dict[str, Any], ts_ms: int, max_payload_bytes: int
) -> Event:
    # Graph-supplied strings only ever travel inside the JSON; the name is ours or LangChain's
    # fixed vocabulary, and the id is built from our own run id and a number.
    _, colon, wire_name = name.partition(":")
    if colon:
        return encode_dialect_event(run_id, seq, name, wire_name, fields["data"])
    if not EVENT_NAME_RE.fullmatch(name):
        raise ValueError(f"event name {name!r} is not SSE-safe")
    data = dumps_bounded(
        {"run_id": run_id, "seq": seq, "ts": ts_ms, **fields}, max_payload_bytes, ENVELOPE
    )
    frame = b"event: %s\nid: %s.%d\ndata: %s\n\n" % (name.encode(), run_id.encode(), seq, data)
    return Event(seq, name, frame)


def encode_dialect_event(run_id: str, seq: int, name: str, wire_name: str, data: Any) -> Event:
    """An event recorded for another dialect (named "<dialect>:<wire name>"), kept as that
    dialect's frame: its own event name and data, and our id, so it resumes like any other.
    Its data is not truncated: a client of that protocol needs the state whole."""
    if "\n" in wire_name or "\r" in wire_name:
        raise ValueError(f"event name {wire_name!r} is not SSE-safe")
    frame = b"event: %s\nid: %s.%d\ndata: %s\n\n" % (
        wire_name.encode(),
        run_id.encode(),
        seq,
        dumps(data),
    )
    return Event(seq, name, frame)


def event_data(frame: bytes) -> Any:
    """The JSON an event's frame carries (every frame has one data line)."""
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            return orjson.loads(line[6:])
    return None


def is_dialect_event(name: str) -> bool:
    return ":" in name


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def gap_event_factory(max_payload_bytes: int) -> Callable[[str, int, int], Event]:
    """stream.gap stands in for the events a reader missed: it takes the id of the last one
    dropped, so resuming after it continues at the first event kept."""

    def gap_event(run_id: str, after: int, first_kept: int) -> Event:
        fields = {"missed": first_kept - 1 - after, "resumed_at": first_kept}
        return encode_event(
            run_id, first_kept - 1, EventName.STREAM_GAP, fields, now_ms(), max_payload_bytes
        )

    return gap_event
