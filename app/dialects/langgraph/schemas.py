"""What the LangGraph routes answer, as their API description (/langgraph/openapi.json) tells
it: LangGraph's shapes, open to more fields, and its error body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Detail(BaseModel):
    detail: str = Field(description="what is wrong")


class Assistant(Open):
    assistant_id: str
    graph_id: str
    name: str
    metadata: dict[str, Any]


class Thread(Open):
    thread_id: str
    status: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    values: Any
    interrupts: dict[str, Any]


class Run(Open):
    run_id: str
    thread_id: str | None
    assistant_id: str | None
    status: str
    created_at: str


class ThreadState(Open):
    values: Any
    next: list[str]
    tasks: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None


class CheckpointWritten(Open):
    checkpoint: dict[str, Any]
    checkpoint_id: str | None


WHEN = {
    400: "a request the thread cannot take (an update for an unknown node, …), or more than "
    "100 query parameters",
    401: "auth is on and the request has no valid credentials",
    404: "no such assistant, thread or run (or not the caller's)",
    409: "the thread exists, is busy, or is not waiting for that resume",
    413: "the body is larger than GATEWAY_MAX_REQUEST_BYTES",
    422: "the body or query is not of the expected shape",
    429: "too many runs are active",
    501: "threads need a checkpointer, and the gateway has none",
    503: "the Redis store cannot be reached",
}
ASSISTANT = (401, 404, 422)
THREADS = (401, 413, 422, 501, 503)
THREAD = (400, 401, 404, 409, 413, 422, 501, 503)
RUNS = (400, 401, 404, 409, 413, 422, 429, 501, 503)
RUN = (401, 404, 422, 501, 503)


def errors(statuses: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    # Any route may answer 400: too many query parameters.
    return {
        status: {"model": Detail, "description": WHEN[status]}
        for status in sorted({400, *statuses})
    }


STREAM = {
    200: {
        "description": (
            "`text/event-stream`, as LangGraph's server sends it: `metadata` first, then the "
            "requested modes' events (`values`, `updates`, `messages`, `custom`, `events`), "
            "`error` if the run fails; every event has an id (`<run_id>.<seq>`), and a join "
            "with `Last-Event-ID` resumes after it. Headers: `Location` (the join) and "
            "`Content-Location` (the run)."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
WAIT = {
    200: {
        "description": "the run's final values (with `__interrupt__` when it paused), or "
        '`{"__error__": {"error", "message"}}`; newlines before it while the run goes on',
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
