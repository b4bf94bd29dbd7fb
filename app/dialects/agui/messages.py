"""AG-UI's request body, and its messages to and from LangChain's: pure."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from app.dialects.agui.events import tool_message_id

ID = r"^[A-Za-z0-9_-]{1,100}$"


class ResumeEntry(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    interrupt_id: str = Field(alias="interruptId")
    status: str = "resolved"
    payload: Any = None


class RunAgentInput(BaseModel):
    """As `@ag-ui/client`'s HttpAgent sends it (camelCase). Fields AG-UI adds later pass."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    thread_id: str = Field(alias="threadId", pattern=ID)
    run_id: str = Field(alias="runId", pattern=ID)
    state: Any = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    context: list[dict[str, Any]] = Field(default_factory=list)
    forwarded_props: Any = Field(None, alias="forwardedProps")
    resume: list[ResumeEntry] | None = None

    def command(self) -> dict[str, Any] | None:
        """A resume: AG-UI 1.0's entries (by interrupt id, several at once), or the
        adapter's `forwardedProps.command`."""
        if self.resume:
            return {"resume": {entry.interrupt_id: entry.payload for entry in self.resume}}
        props = self.forwarded_props if isinstance(self.forwarded_props, dict) else {}
        command = props.get("command")
        if isinstance(command, dict) and command.get("resume") is not None:
            return {"resume": command["resume"]}
        return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def to_langchain(message: dict[str, Any]) -> dict[str, Any] | None:
    """One AG-UI message as LangChain's message dict; None for roles LangChain has not
    (activity, reasoning)."""
    role, content, message_id = message.get("role"), message.get("content"), message.get("id")
    if role == "user":
        return {
            "type": "human",
            "content": content if content is not None else "",
            "id": message_id,
        }
    if role in ("system", "developer"):
        return {"type": "system", "content": _text(content), "id": message_id}
    if role == "assistant":
        calls = []
        for call in message.get("toolCalls") or ():
            function = call.get("function") or {}
            try:
                args = orjson.loads(function.get("arguments") or "{}")
            except orjson.JSONDecodeError:
                args = {}
            calls.append({"id": call.get("id"), "name": function.get("name"), "args": args})
        return {"type": "ai", "content": _text(content), "id": message_id, "tool_calls": calls}
    if role == "tool":
        return {
            "type": "tool",
            "content": _text(content),
            "tool_call_id": message.get("toolCallId"),
            "id": message_id,
        }
    return None


def new_messages(given: list[dict[str, Any]], kept: list[Any]) -> list[dict[str, Any]]:
    """The client's history (AG-UI sends all of it each turn) less what the thread's state
    holds already: its ids, and its tool answers by the call they answer."""
    ids = {getattr(m, "id", None) for m in kept}
    answered = {getattr(m, "tool_call_id", None) for m in kept if getattr(m, "type", "") == "tool"}
    out = []
    for message in given:
        converted = to_langchain(message)
        if converted is None or message.get("id") in ids:
            continue
        if converted["type"] == "tool" and converted["tool_call_id"] in answered:
            continue
        out.append(converted)
    return out


def to_agui(message: Any) -> dict[str, Any] | None:
    """A LangChain message of the thread's state as AG-UI's; the same ids the stream gave."""
    kind = getattr(message, "type", None)
    text = _text(getattr(message, "content", ""))
    if kind == "human":
        return {"id": str(message.id), "role": "user", "content": text}
    if kind == "system":
        return {"id": str(message.id), "role": "system", "content": text}
    if kind == "ai":
        out: dict[str, Any] = {"id": str(message.id), "role": "assistant"}
        if text:
            out["content"] = text
        calls = [
            {
                "id": str(call.get("id")),
                "type": "function",
                "function": {
                    "name": str(call.get("name")),
                    "arguments": orjson.dumps(call.get("args") or {}).decode(),
                },
            }
            for call in getattr(message, "tool_calls", None) or ()
        ]
        if calls:
            out["toolCalls"] = calls
        return out
    if kind == "tool":
        call_id = str(getattr(message, "tool_call_id", ""))
        return {
            "id": tool_message_id(call_id),
            "role": "tool",
            "content": text,
            "toolCallId": call_id,
        }
    return None
