"""Reading what clients send: run bodies, one-shot query strings, resume positions, filters."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from app.errors import ApiError
from app.events import EVENT_NAME_RE, EventName, InvalidEventId, parse_event_id
from app.settings import DisconnectPolicy

RESERVED_QUERY = frozenset({"input", "last_event_id", "events", "mode"})
Mode = Literal["events", "raw"]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]
    config: dict[str, Any] | None = None
    on_disconnect: DisconnectPolicy | None = None
    mode: Mode = "events"


async def read_run_request(request: Request, max_bytes: int) -> RunRequest:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    try:
        return RunRequest.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "invalid_body", f"the body is not JSON: {exc}") from exc
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid_body",
            "the body does not match "
            '{"input": {...}, "config"?: {...}, "on_disconnect"?: "continue"|"cancel"}',
            details=exc.errors(include_url=False, include_context=False),
        ) from exc


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {max_bytes} bytes")


def one_shot_request(request: Request) -> RunRequest:
    """GET /stream: `?input=<JSON object>` plus every other non-reserved parameter as a string."""
    query = request.query_params
    input_: dict[str, Any] = {}
    if "input" in query:
        try:
            input_ = orjson.loads(query["input"])
        except orjson.JSONDecodeError as exc:
            raise ApiError(422, "invalid_input", f"?input is not JSON: {exc}") from exc
        if not isinstance(input_, dict):
            raise ApiError(422, "invalid_input", "?input must be a JSON object")
    for key, value in query.items():
        if key not in RESERVED_QUERY:
            input_[key] = value
    return RunRequest(input=input_, mode=stream_mode(request) or "events")


def resume_position(request: Request) -> tuple[str, int] | None:
    """The Last-Event-ID header, else the `last_event_id` query parameter: (run_id, seq)."""
    value = request.headers.get("last-event-id")
    if value is None:
        value = request.query_params.get("last_event_id")
    if value is None or value == "":
        return None
    try:
        return parse_event_id(value)
    except InvalidEventId as exc:
        raise ApiError(400, "invalid_last_event_id", str(exc)) from exc


def stream_mode(request: Request) -> Mode | None:
    mode = request.query_params.get("mode")
    if mode is None:
        return None
    if mode not in ("events", "raw"):
        raise ApiError(400, "invalid_mode", f"mode {mode[:40]!r}: expected 'events' or 'raw'")
    return mode  # type: ignore[return-value]


def event_filter(request: Request) -> frozenset[str] | None:
    value = request.query_params.get("events")
    if value is None:
        return None
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    known = {str(name) for name in EventName}
    raw_mode = request.query_params.get("mode") == "raw"
    unknown = sorted(
        n for n in names if not EVENT_NAME_RE.fullmatch(n) or (not raw_mode and n not in known)
    )
    if unknown or not names:
        raise ApiError(
            400, "invalid_events", f"?events: unknown event names {unknown}; known: {sorted(known)}"
        )
    return names
