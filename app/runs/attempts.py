"""What a new attempt of a run says before its first new event: the pure part of continuing a
run on another process (which work of the attempt before did not finish, and where the new
one starts from)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.events import Event, EventName, event_data

_OPENING = {EventName.NODE_START, EventName.TOKEN, EventName.TOOL_START}
_CLOSING = {EventName.NODE_END, EventName.NODE_ERROR, EventName.LLM_END, EventName.TOOL_END}


def unfinished(events: Iterable[Event]) -> dict[str, list[Any]]:
    """The node spans, messages and tool calls the log opened after its last run.attempt (or
    its start) and never closed: the work the attempt that wrote them left unfinished. The
    next attempt produces it again, under new span and message ids (or not at all, when the
    checkpointer already holds its result), so a client drops what it showed of them."""
    spans: dict[str, dict[str, Any]] = {}
    messages: dict[str, None] = {}
    tools: dict[str, None] = {}
    for event in events:
        name = event.name
        if name == EventName.RUN_ATTEMPT:
            spans.clear()
            messages.clear()
            tools.clear()
            continue
        if name not in _OPENING and name not in _CLOSING:
            continue
        data = event_data(event.frame) or {}
        span_id = data.get("span_id")
        if name == EventName.NODE_START:
            spans[span_id] = {"span_id": span_id, "node": data.get("node")}
        elif name in (EventName.NODE_END, EventName.NODE_ERROR):
            spans.pop(span_id, None)
        elif name == EventName.TOKEN:
            messages[data.get("message_id") or span_id] = None
        elif name == EventName.LLM_END:
            messages.pop(data.get("message_id") or span_id, None)
        elif name == EventName.TOOL_START:
            tools[span_id] = None
        else:
            tools.pop(span_id, None)
    return {"spans": list(spans.values()), "messages": list(messages), "tools": list(tools)}


def attempt_fields(
    attempt: int,
    reason: str,
    checkpoint_id: str | None,
    from_start: bool,
    dropped: dict[str, list[Any]],
) -> dict[str, Any]:
    """run.attempt's fields: which attempt this is and why (`process_lost`: its process
    stopped; `handed_over`: its process shut down and left it to another), the checkpoint it
    continues from (None: the thread had none), whether it runs the input again from the
    start (the attempt before wrote no checkpoint), and what of that attempt to drop."""
    return {
        "attempt": attempt,
        "reason": reason,
        "checkpoint_id": checkpoint_id,
        "from_start": from_start,
        "unfinished": dropped,
    }
