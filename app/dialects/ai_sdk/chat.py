"""The body `useChat`'s DefaultChatTransport posts, and what it asks the graph: pure."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.dialects.ai_sdk.parts import Answered
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
        out.append(Answered(approval_id, str(part.get("toolCallId")), approved))
    return out


def resume_command(answers: list[Answered], pending: list[str]) -> dict[str, Any]:
    """`Command(resume=…)`: the answer itself when one interrupt waits, an id-keyed map when
    several do (LangGraph resumes each with its own)."""
    if len(pending) == 1 and len(answers) == 1:
        return {"resume": answers[0].approved}
    return {"resume": {answer.approval_id: answer.approved for answer in answers}}
