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


class SelectedAssistant(Open):
    """An assistant as a search with `select` gives it: only the fields asked for."""

    assistant_id: str | None = None
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None


class Thread(Open):
    thread_id: str
    status: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    values: Any
    interrupts: dict[str, Any]


class SelectedThread(Open):
    """A thread as a search with `select` gives it: only the fields asked for."""

    thread_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    metadata: dict[str, Any] | None = None
    values: Any = None
    interrupts: dict[str, Any] | None = None


class Cron(Open):
    cron_id: str
    assistant_id: str | None
    thread_id: str | None
    schedule: str
    payload: dict[str, Any]
    next_run_date: str | None
    enabled: bool


class SelectedCron(Open):
    """A cron as a search with `select` gives it: only the fields asked for."""

    cron_id: str | None = None
    assistant_id: str | None = None
    thread_id: str | None = None
    schedule: str | None = None
    payload: dict[str, Any] | None = None
    next_run_date: str | None = None
    enabled: bool | None = None


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


class Counted(BaseModel):
    count: int
    bytes: int


class ChannelBytes(BaseModel):
    versions: int
    bytes: int


class ChannelValues(Counted):
    by_channel: dict[str, ChannelBytes]


class ThreadStorage(BaseModel):
    """Bytes a thread occupies in the checkpointer, as stored."""

    thread_id: str
    total_bytes: int = Field(description="the sum of the three below")
    checkpoints: Counted = Field(description="checkpoint rows: the checkpoint and its metadata")
    channel_values: ChannelValues = Field(
        description="stored channel values, one row per channel version (none with SQLite, "
        "which keeps them inside the checkpoints)"
    )
    pending_writes: Counted = Field(description="task writes not yet folded into a checkpoint")


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
THREAD_STREAM = {
    200: {
        "description": (
            "`text/event-stream`: each run on the thread in turn, as its join streams it "
            "(`metadata`, its recorded modes' events), then `metadata` "
            '`{"status": "run_done", "run_id"}`; open for the runs still to come. Ids are '
            "`<run_id>.<seq>`: `Last-Event-ID` resumes after one, `-` from the first run, none "
            "from now on. `stream_modes`: `run_modes` (default), `lifecycle` (only the "
            "`metadata` events), `state_update` (accepted; no events)."
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


# LangGraph's thread protocol.


class ProtocolCommand(BaseModel):
    id: int = Field(description="the client's number for it, echoed in the answer")
    method: str = Field(description="run.start, input.respond, subscription.*, agent.getTree")
    params: dict[str, Any] = Field(default_factory=dict)


class ProtocolAnswer(Open):
    type: str = Field(description="success or error")
    id: int | None
    result: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    error: str | None = Field(None, description="the protocol's code, on an error")
    message: str | None = None


class EventStreamRequest(BaseModel):
    channels: list[str] = Field(
        description="values, updates, messages, tools, custom, lifecycle, input, tasks, "
        "checkpoints, or custom:<name>"
    )
    namespaces: list[list[str]] | None = Field(None, description="prefixes to keep")
    depth: int | None = Field(None, description="how deep below them")
    since: int | None = Field(None, description="the events after this seq only")


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """An `openapi_extra` describing a JSON body the route parses itself (LangGraph answers
    400, not 422, for a body that is not what it should be)."""
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}}
    return {"requestBody": {"required": True, **schema}}


COMMAND = {
    # 404: a path that is no thread id at all (the commands answer no_such_run themselves).
    **errors((401, 404, 413, 422, 503)),
    200: {
        "model": ProtocolAnswer,
        "description": "`{type: success, id, result, meta}` or `{type: error, id, error, message}`",
    },
    400: {"model": ProtocolAnswer, "description": "not a command: `invalid_argument`"},
}
EVENTS = {
    **errors((401, 404, 413, 422, 503)),
    200: {
        "description": (
            "`text/event-stream`: the thread's events, `event: <method>`, `id: <seq>`, one "
            "`data:` line of `{type: event, event_id, seq, method, params: {namespace, "
            "timestamp, data, node?}}`; history first (after `since`), then live, across runs."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
