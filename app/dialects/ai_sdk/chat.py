"""The body `useChat`'s DefaultChatTransport posts, and what it asks the graph: pure."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.dialects.ai_sdk.parts import Answered, actions_of
from app.errors import ApiError

ID = r"^[A-Za-z0-9_-]{1,100}$"


class UiMessage(BaseModel):
    """A UIMessage: only what the gateway reads of it is checked; the rest passes."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    role: Literal["user", "assistant", "system"]
    parts: list[dict[str, Any]] = Field(default_factory=list)


class ChatRequest(BaseModel):
    """As DefaultChatTransport sends it; fields an app adds through the transport's `body`
    pass, and `input` (an object) goes into the graph's input beside the new message."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=ID, description="The chat's id: the thread's id.")
    messages: list[UiMessage] = Field(min_length=1)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    message_id: str | None = Field(None, alias="messageId")
    input: dict[str, Any] = Field(default_factory=dict)


def text_of(message: UiMessage) -> str:
    return "".join(
        str(part.get("text") or "") for part in message.parts if part.get("type") == "text"
    )


def human_message(message: UiMessage) -> dict[str, Any]:
    """The user's new message as LangChain's, with the id useChat gave it."""
    text = text_of(message)
    if not text.strip():
        raise ApiError(
            422, "empty_message", "the last message has no text part: nothing to send the graph"
        )
    return {"type": "human", "content": text, "id": message.id}


def answered_approvals(message: UiMessage) -> list[Answered]:
    """The approvals an assistant message answers: its tool parts that `addToolApprovalResponse`
    moved to `approval-responded`."""
    out = []
    for part in message.parts:
        approval = part.get("approval")
        if part.get("state") != "approval-responded" or not isinstance(approval, dict):
            continue
        approval_id, approved = approval.get("id"), approval.get("approved")
        if not isinstance(approval_id, str) or not isinstance(approved, bool):
            raise ApiError(
                422,
                "invalid_approval",
                "an approval answer needs approval.id (a string) and approval.approved (a bool)",
            )
        reason = approval.get("reason")
        reason = reason if isinstance(reason, str) and reason else None
        out.append(Answered(approval_id, str(part.get("toolCallId")), approved, reason))
    return out


def resume_command(answers: list[Answered], pending: dict[str, Any]) -> dict[str, Any]:
    """`Command(resume=…)` from the answers, given the pending interrupts' values by id: the
    answer itself when one interrupt waits, an id-keyed map when several do (LangGraph resumes
    each with its own). A plain interrupt is answered `true` or `false`; one of LangChain's
    HumanInTheLoopMiddleware, `{"decisions": [...]}`, one per action, all of them answered."""
    resumes: dict[str, Any] = {}
    by_action: dict[str, dict[int, Answered]] = {}
    for answer in answers:
        interrupt_id, _, index = answer.approval_id.rpartition(":")
        actions = actions_of(pending.get(interrupt_id)) if interrupt_id else None
        if actions is not None and index.isdigit() and int(index) < len(actions):
            by_action.setdefault(interrupt_id, {})[int(index)] = answer
        elif answer.approval_id in pending and actions_of(pending[answer.approval_id]) is None:
            resumes[answer.approval_id] = answer.approved
        else:
            raise ApiError(
                409,
                "approval_not_pending",
                f"approval {answer.approval_id!r} is not pending; pending: {sorted(pending)}",
                details={"pending": sorted(pending)},
            )
    for interrupt_id, given in by_action.items():
        count = len(actions_of(pending[interrupt_id]) or ())
        if len(given) != count:
            raise ApiError(
                409,
                "approval_incomplete",
                f"interrupt {interrupt_id!r} asks about {count} calls: answer every one of them "
                f"together ({len(given)} answered)",
            )
        resumes[interrupt_id] = {"decisions": [_decision(given[i]) for i in range(count)]}
    if len(pending) == 1 and len(resumes) == 1:
        return {"resume": next(iter(resumes.values()))}
    return {"resume": resumes}


def _decision(answer: Answered) -> dict[str, Any]:
    if answer.approved:
        return {"type": "approve"}
    return {"type": "reject", **({"message": answer.reason} if answer.reason else {})}
