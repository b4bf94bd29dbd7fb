"""Request bodies as LangGraph's server takes them. Like that server, unknown fields are
ignored; what the gateway cannot honour is refused with a 422 that says so."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("multitask_strategy")
    @classmethod
    def _no_rollback(cls, value: str) -> str:
        if value == "rollback":
            raise ValueError(
                "multitask_strategy 'rollback' is not supported here; 'interrupt' cancels the "
                "active run and keeps its checkpoints"
            )
        return value

    def modes(self) -> list[str]:
        """The stream modes asked for, in order; LangGraph's default is values."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes or ["values"]))


class ThreadCreate(Lenient):
    thread_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadPatch(Lenient):
    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadSearch(Lenient):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    status: ThreadStatusName | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] = "updated_at"
    sort_order: Literal["asc", "desc"] = "desc"


class AssistantSearch(Lenient):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


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
