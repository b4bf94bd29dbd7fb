"""Reading what clients send: run bodies, one-shot query strings, resume positions, filters."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, Request, params
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.datastructures import Headers
from starlette.types import Scope

from app.errors import ApiError
from app.events import EVENT_NAME_RE, EventName, InvalidEventId, parse_event_id
from app.runs import RunSpec
from app.settings import DisconnectPolicy
from app.store.base import MultitaskStrategy


class OrjsonRequest(Request):
    """Bodies parsed by orjson: quicker, and what it refuses (invalid UTF-8, nesting deeper
    than 1024) is a JSON error, so a 422, where the standard parser would fail otherwise."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


# No route takes more than a handful; GET /stream turns the rest into input fields, which a
# client must not be able to multiply without end.
MAX_QUERY_PARAMETERS = 100


def typed_as_json(headers: Headers) -> bool:
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def readable_as_json(request: Request) -> bool:
    """Whether the body may be read as JSON whatever its content type, as LangGraph's server
    reads it (Agent Chat UI's proxy sends JSON as text/plain, `curl -d` as a form). Not from a
    page of an origin CORS does not admit: a browser sends text/plain to any origin without
    asking first (no preflight), so reading it would let any site start runs here."""
    if typed_as_json(request.headers):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return True
    admitted = request.app.state.settings.cors_origin_list()
    return (
        admitted == ["*"]
        or origin.rstrip("/") in admitted
        or urlsplit(origin).netloc == request.headers.get("host")
    )


def _as_json(scope: Scope) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class JSONRoute(APIRoute):
    def get_route_handler(self) -> Any:
        handle = super().get_route_handler()
        takes_json = self.body_field is not None and not isinstance(
            self.body_field.field_info, params.Form
        )

        async def route(request: Request) -> Any:
            if len(request.query_params.multi_items()) > MAX_QUERY_PARAMETERS:
                raise ApiError(
                    400,
                    "too_many_query_parameters",
                    f"more than {MAX_QUERY_PARAMETERS} query parameters",
                )
            scope = request.scope
            if takes_json and not typed_as_json(request.headers) and readable_as_json(request):
                scope = _as_json(scope)
            return await handle(OrjsonRequest(scope, request.receive))

        return route


RESERVED_QUERY = frozenset(
    {"input", "last_event_id", "events", "mode", "thread_id", "command", "multitask_strategy"}
)
Mode = Literal["events", "raw"]
ThreadId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
BODY_SHAPE = (
    '{"input": {...} | "command": {"resume"?, "update"?, "goto"?}, "config"?: {...}, '
    '"on_disconnect"?: "continue"|"cancel", "mode"?: "events"|"raw", "thread_id"?: str, '
    '"multitask_strategy"?: "reject"|"interrupt"|"enqueue", "if_not_exists"?: "reject"|"create"}'
)


# A route table: path, method, endpoint, and APIRouter.add_api_route's options.
Routes = list[tuple[str, str, Any, dict[str, Any]]]


def table_router(routes: Routes, check: Any) -> APIRouter:
    """The routes of a table, behind a dependency every one of them checks (credentials)."""
    router = APIRouter(dependencies=[Depends(check)], route_class=JSONRoute)
    for path, method, endpoint, options in routes:
        router.add_api_route(path, endpoint, methods=[method], **options)
    return router


class CommandRequest(BaseModel):
    """LangGraph's Command, as a client sends it: answer interrupts, update state, go to."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    resume: Any = None
    update: dict[str, Any] | list[Any] | None = None
    goto: str | list[str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CommandRequest:
        if not self.model_fields_set:
            raise ValueError("a command needs at least one of resume, update or goto")
        return self

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class RunRequest(BaseModel):
    # Exactly one of input and command: the description says so too.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["input"]}, {"required": ["command"]}]},
    )

    input: dict[str, Any] | None = None
    command: CommandRequest | None = None
    config: dict[str, Any] | None = None
    on_disconnect: DisconnectPolicy | None = None
    mode: Mode = "events"
    thread_id: ThreadId | None = None
    multitask_strategy: MultitaskStrategy = MultitaskStrategy.REJECT
    if_not_exists: Literal["reject", "create"] = "reject"
    # LangGraph's: when each step's checkpoint is written (sync: before the next step starts,
    # async: while it runs, exit: only at the end), so where a later attempt can continue.
    durability: Literal["sync", "async", "exit"] | None = None
    # Which graph runs, when the gateway serves several (a langgraph.json's); the default one
    # (the first) otherwise. A thread's runs are all its graph's.
    graph: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _input_or_command(self) -> RunRequest:
        if (self.input is None) == (self.command is None):
            raise ValueError("give either input (a new run) or command (to resume a thread)")
        return self

    def spec(self, thread_id: str | None = None) -> RunSpec:
        thread_id = thread_id or self.thread_id
        config = self.config or {}
        given = config.get("configurable", {}).get("thread_id")
        if thread_id is not None and given is not None and given != thread_id:
            raise ApiError(
                400,
                "thread_id_mismatch",
                f"config.configurable.thread_id {given!r} is not the run's thread {thread_id!r}",
            )
        if self.thread_id is not None and self.thread_id != thread_id:
            raise ApiError(
                400,
                "thread_id_mismatch",
                f"the body's thread_id {self.thread_id!r} is not the thread {thread_id!r}",
            )
        if self.graph is not None:
            config = {
                **config,
                "configurable": {**config.get("configurable", {}), "graph_id": self.graph},
            }
        return RunSpec(
            input=self.input,
            command=self.command.given() if self.command is not None else None,
            config=config,
            on_disconnect=self.on_disconnect,
            mode=self.mode,
            thread_id=thread_id,
            strategy=self.multitask_strategy,
            graph_options={"durability": self.durability} if self.durability else {},
        )


class ThreadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: ThreadId | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M], shape: str) -> M:
    """The request's JSON body as `model`, for the one route that must look at a header before
    its body (the app's body limit still applies: 413); 422 when it is not JSON or not of the
    model's shape (described by `shape`). Other routes declare their body as a parameter."""
    body = await request.body()
    if not readable_as_json(request):
        raise ApiError(
            422, "invalid_body", "a page of another origin must send its body as application/json"
        )
    try:
        return model.model_validate(orjson.loads(body or b"{}"))
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "invalid_body", f"the body is not JSON: {exc}") from exc
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid_body",
            f"the body does not match {shape}",
            details=exc.errors(include_url=False, include_context=False),
        ) from exc


async def read_run_request(request: Request) -> RunRequest:
    return await read_body(request, RunRequest, BODY_SHAPE)


def one_shot_request(request: Request) -> RunRequest:
    """GET /stream: `?input=<JSON object>` plus every other non-reserved parameter as a string;
    `?thread_id=`, `?command=<JSON object>` and `?multitask_strategy=` as in a body."""
    query = request.query_params
    input_: dict[str, Any] = _json_query(query, "input") or {}
    for key, value in query.items():
        if key not in RESERVED_QUERY:
            input_[key] = value
    fields: dict[str, Any] = {"mode": stream_mode(request) or "events"}
    command = _json_query(query, "command")
    fields.update({"command": command} if command is not None else {"input": input_})
    for name in ("thread_id", "multitask_strategy"):
        if name in query:
            fields[name] = query[name]
    try:
        return RunRequest.model_validate(fields)
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid_query",
            "the query does not make a run: ?input=<JSON object> or input fields, or "
            "?command=<JSON object>; ?thread_id=, ?multitask_strategy=",
            details=exc.errors(include_url=False, include_context=False),
        ) from exc


def _json_query(query: Any, name: str) -> dict[str, Any] | None:
    if name not in query:
        return None
    try:
        value = orjson.loads(query[name])
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, f"invalid_{name}", f"?{name} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(422, f"invalid_{name}", f"?{name} must be a JSON object")
    return value


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
