"""Request bodies as LangGraph's server takes them. Like that server, unknown fields are
ignored; what the gateway cannot honour is refused with a 422 that says so."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.errors import ApiError
from app.translate import LANGGRAPH_MODES

SUPPORTED_MODES = tuple(LANGGRAPH_MODES)
ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CommandBody(Lenient):
    resume: Any = None
    update: Any = None
    goto: Any = None

    def given(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)


class RunCreate(Lenient):
    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    multitask_strategy: Literal["reject", "interrupt", "enqueue", "rollback"] = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"
    durability: Literal["sync", "async", "exit"] | None = None
    # Older clients' word for durability: checkpoints during the run ("async") or at its end.
    checkpoint_during: bool | None = None
    # Posted to when the run ends, if the gateway's allow-list has it (checked at the run's
    # start: webhook.check).
    webhook: str | None = None
    # A delayed run: created now, `pending`, started no earlier than this many seconds later.
    after_seconds: float | None = Field(None, ge=0)
    # In LangGraph's document, not (yet) done here: refused rather than dropped unseen.
    feedback_keys: list[str] | None = None

    @field_validator("feedback_keys")
    @classmethod
    def _no_feedback(cls, value: list[str] | None) -> list[str] | None:
        if value:
            raise ValueError("feedback_keys (LangSmith feedback) are not supported here")
        return value

    def checkpoint_durability(self) -> str | None:
        """`durability`, or what the older `checkpoint_during` meant by it."""
        if self.durability is not None or self.checkpoint_during is None:
            return self.durability
        return "async" if self.checkpoint_during else "exit"

    @field_validator("stream_mode")
    @classmethod
    def _supported(cls, value: str | list[str] | None) -> str | list[str] | None:
        modes = [value] if isinstance(value, str) else value or []
        unsupported = [m for m in modes if m not in SUPPORTED_MODES]
        if unsupported:
            raise ValueError(
                f"stream_mode {unsupported} is not supported here; "
                f"supported: {', '.join(SUPPORTED_MODES)}"
            )
        return value

    def modes(self) -> list[str]:
        """The stream modes asked for, in order; LangGraph's default is values."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes or ["values"]))


class CronRun(Lenient):
    """What a cron's run is asked, each tick (checked as a run body when the cron is made)."""

    assistant_id: str
    input: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] | None = None
    webhook: Any = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    durability: Literal["sync", "async", "exit"] | None = None

    def payload(self) -> dict[str, Any]:
        """The body as given (LangGraph's server keeps it as the cron's `payload`), once it
        holds as a run's body."""
        given = self.model_dump(mode="json", exclude_unset=True)
        try:
            RunCreate.model_validate(given)
        except ValidationError as exc:
            raise ApiError(422, "invalid_run", "the cron's run", details=exc.errors()) from exc
        return given


class CronCreate(CronRun):
    schedule: str
    timezone: str | None = None
    end_time: AwareDatetime | None = None
    on_run_completed: Literal["delete", "keep"] = "delete"
    enabled: bool = True


class ThreadCronCreate(CronCreate):
    multitask_strategy: Literal["reject", "interrupt", "enqueue", "rollback"] = "enqueue"


class CronPatch(Lenient):
    """The fields given change; `end_time: null` clears it. Run fields go into the payload."""

    schedule: str | None = None
    timezone: str | None = None
    end_time: AwareDatetime | None = None
    on_run_completed: Literal["delete", "keep"] | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
    input: Any = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: Any = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class CronFilter(Lenient):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class CronSearch(CronFilter):
    enabled: bool | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "next_run_date",
            "end_time",
            "created_at",
            "updated_at",
        ]
        | None
    ) = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class StateUpdateBody(Lenient):
    """One update of a superstep: values written as `as_node`, or a command."""

    values: Any = None
    command: CommandBody | None = None
    as_node: str | None = None


class Superstep(Lenient):
    updates: list[StateUpdateBody] = Field(default_factory=list, max_length=100)


class ThreadCreate(Lenient):
    thread_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    # The new thread's history, written as if its nodes had run (LangGraph's bulk update).
    supersteps: list[Superstep] | None = Field(None, max_length=1000)
    # In LangGraph's document, not (yet) done here: refused rather than dropped unseen.
    ttl: Any = None

    @field_validator("ttl")
    @classmethod
    def _not_supported(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(f"{info.field_name} is not supported here on thread creation")
        return value

    def steps(self) -> list[list[dict[str, Any]]] | None:
        """The supersteps, each update as `{"values" | "command", "as_node"}`."""
        if not self.supersteps:
            return None
        return [
            [
                {"command": u.command.model_dump(include=u.command.model_fields_set)}
                if u.command is not None
                else {"values": u.values, "as_node": u.as_node}
                for u in step.updates
            ]
            for step in self.supersteps
        ]


class ThreadPatch(Lenient):
    metadata: dict[str, Any] = Field(default_factory=dict)


ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
]


class ThreadFilter(Lenient):
    """Threads whose metadata and latest state values hold these (JSON containment, as
    LangGraph's `@>`), in that status."""

    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class ThreadSearch(ThreadFilter):
    ids: list[str] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] = (
        "updated_at"
    )
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[ThreadField] | None = None
    # In LangGraph's document, not (yet) done here: refused rather than dropped unseen.
    extract: Any = None

    @field_validator("extract")
    @classmethod
    def _no_extract(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("extract is not supported here: select whole fields instead")
        return value


class ThreadPrune(Lenient):
    thread_ids: list[str] = Field(max_length=1000)
    strategy: Literal["delete", "keep_latest"] = "delete"

    @field_validator("strategy")
    @classmethod
    def _delete_only(cls, value: str) -> str:
        if value == "keep_latest":
            # (LangGraph's checkpointers do not prune their own history yet.)
            raise ValueError("strategy 'keep_latest' is not supported here: 'delete' is")
        return value


class RunsCancel(Lenient):
    """The runs to cancel: those of `run_ids` (on `thread_id`), or every one in `status`."""

    status: Literal["pending", "running", "all"] | None = None
    thread_id: str | None = None
    run_ids: list[str] | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _one_way(self) -> RunsCancel:
        if (self.status is None) == (self.run_ids is None):
            raise ValueError("give either run_ids (with their thread_id) or a status")
        return self


AssistantField = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]


class AssistantFilter(Lenient):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None


class AssistantSearch(AssistantFilter):
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[AssistantField] | None = None


class AssistantCreate(Lenient):
    graph_id: str
    assistant_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=10_000)


class AssistantPatch(Lenient):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=10_000)


class AssistantVersions(Lenient):
    metadata: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class AssistantLatest(Lenient):
    version: int = Field(ge=1)


class StateUpdate(Lenient):
    # As LangGraph's server: an update, a list of them, or none (as_node's writes only).
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class HistorySearch(Lenient):
    limit: int = Field(10, ge=1, le=1000)
    before: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class CheckpointRequest(Lenient):
    checkpoint: dict[str, Any]
    subgraphs: bool = False
