"""What a run's next attempt says of the attempt before: the work it left unfinished."""

from __future__ import annotations

from typing import Any

from app.events import encode_event
from app.runs.attempts import unfinished


def log(*events: tuple[str, dict[str, Any]]) -> list[Any]:
    return [
        encode_event("run", seq, name, fields, 0, 65_536)
        for seq, (name, fields) in enumerate(events, 1)
    ]


def test_what_began_and_never_ended_is_unfinished() -> None:
    events = log(
        ("run.start", {}),
        ("node.start", {"node": "plan", "span_id": "p"}),
        ("node.end", {"node": "plan", "span_id": "p"}),
        ("node.start", {"node": "write", "span_id": "w"}),
        ("node.start", {"node": "search", "span_id": "s"}),
        ("tool.start", {"node": "search", "span_id": "t1", "tool": "find"}),
        ("tool.end", {"node": "search", "span_id": "t1", "tool": "find"}),
        ("tool.start", {"node": "search", "span_id": "t2", "tool": "find"}),
        ("token", {"node": "write", "span_id": "m1", "message_id": "a", "text": "x"}),
        ("llm.end", {"node": "write", "span_id": "m1", "message_id": "a"}),
        ("token", {"node": "write", "span_id": "m2", "message_id": "b", "text": "y"}),
        ("token", {"node": "write", "span_id": "m3", "message_id": None, "text": "z"}),
    )
    assert unfinished(events) == {
        "spans": [{"span_id": "w", "node": "write"}, {"span_id": "s", "node": "search"}],
        "messages": ["b", "m3"],
        "tools": ["t2"],
    }


def test_only_the_attempt_since_the_last_run_attempt_counts() -> None:
    events = log(
        ("node.start", {"node": "write", "span_id": "w1"}),
        ("token", {"node": "write", "span_id": "m1", "message_id": "a", "text": "x"}),
        ("run.attempt", {"attempt": 2}),
        ("node.start", {"node": "write", "span_id": "w2"}),
    )
    assert unfinished(events) == {
        "spans": [{"span_id": "w2", "node": "write"}],
        "messages": [],
        "tools": [],
    }
