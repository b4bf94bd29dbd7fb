"""What the native routes answer, as the API description tells it (/openapi.json, /docs).
Handlers build their JSON themselves (fast, with orjson); these models only describe it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.events import EventName, RunStatus
from app.store.base import ThreadStatus


class ErrorBody(BaseModel):
    error: str = Field(description="a stable code, such as run_not_found or thread_busy")
    message: str = Field(description="what is wrong, for a person")
    details: Any = Field(None, description="more, for some codes (the invalid fields, …)")


class Health(BaseModel):
    status: Literal["ok", "draining"]


class GraphNode(BaseModel):
    id: str
    name: str


class GraphEdge(BaseModel):
    source: str
    target: str
    conditional: bool


class GraphView(BaseModel):
    name: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    mermaid: str


class RunCreated(BaseModel):
    run_id: str
    thread_id: str | None
    status: RunStatus
    stream_url: str = Field(description="the run's stream; with auth on, it carries ?token=")


class RunView(BaseModel):
    run_id: str
    thread_id: str | None
    status: RunStatus
    events: int = Field(description="the seq of its last event")
    attempt: int = Field(
        1, description="1, then one more each time another process continued the run"
    )
    created_at: str
    ended_at: str | None
    stream_url: str


class CancelView(BaseModel):
    run_id: str
    status: Literal["cancelling", "success", "error", "cancelled", "interrupted"]


class ThreadView(BaseModel):
    model_config = ConfigDict(extra="allow")

    thread_id: str
    status: ThreadStatus
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    stream_token: str | None = Field(
        None, description="with auth on: ?token= for the streams of this thread's runs"
    )


class Interrupt(BaseModel):
    id: str
    value: Any
    node: str
    span_id: str | None
    path: list[str]


class ThreadDetail(ThreadView):
    values: Any = Field(description="the latest checkpoint's state, or null")
    interrupts: list[Interrupt] = Field(description="the interrupts the thread waits on")


class TaskView(BaseModel):
    id: str
    name: str
    interrupts: list[dict[str, Any]]


class StateView(BaseModel):
    values: Any
    next: list[str]
    tasks: list[TaskView]
    checkpoint_id: str | None
    created_at: str | None


class RunSummary(BaseModel):
    run_id: str
    status: RunStatus
    created_at: str
    ended_at: str | None


WHEN = {
    400: "bad input in the path, query or headers (a malformed Last-Event-ID, more than 100 "
    "query parameters, …)",
    401: "auth is on and the request has no valid credentials or stream token",
    404: "no such run or thread (or not the caller's)",
    409: "the thread exists, is busy, or is not waiting for that resume",
    413: "the body is larger than GATEWAY_MAX_REQUEST_BYTES",
    422: "the body or query is not JSON, or not of the documented shape",
    429: "GATEWAY_MAX_RUNS or the caller's GATEWAY_MAX_RUNS_PER_PRINCIPAL runs are active",
    501: "threads need a checkpointer, and the gateway has none",
    503: "the Redis store cannot be reached, or this process is draining (shutting down)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route may give, every one with the error body; any route may answer
    400 (too many query parameters)."""
    return {
        status: {"model": ErrorBody, "description": WHEN[status]}
        for status in sorted({400, *statuses})
    }


EVENTS = "\n".join(f"- `{name}`" for name in EventName)
STREAM = {
    200: {
        "description": (
            "`text/event-stream`: each event is `event: <name>`, `id: <run_id>.<seq>` and one "
            "`data:` line of JSON (with `run_id`, `seq`, `ts`); comment lines are heartbeats; "
            "the last event is `run.end`. Names:\n" + EVENTS
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "resumed after the run's last event: nothing is missing"},
}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


STREAM_PARAMETERS = [
    {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,100}\.[0-9]{1,18}$"},
        "description": "`<run_id>.<seq>` of the last event received: the stream resumes after "
        "it (EventSource sends it when it reconnects)",
    },
    _query("last_event_id", "the same, for clients that cannot send headers (the header wins)"),
    _query("events", "comma-separated event names to keep (run.end is always kept)"),
    _query("mode", "`events` (default) or `raw`; must be the mode the run was recorded in"),
    _query("token", "a stream token (with auth on): what EventSource sends instead of a header"),
]
ONE_SHOT_PARAMETERS = [
    _query("input", "the graph's input, a JSON object"),
    _query("thread_id", "run on this thread"),
    _query("command", "a JSON object {resume?, update?, goto?} instead of an input"),
    _query("multitask_strategy", "reject, interrupt or enqueue, for a busy thread"),
]
