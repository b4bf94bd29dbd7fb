"""AG-UI's events from a run's log: pure. The same log every dialect reads, said the way AG-UI
clients (`@ag-ui/client`'s HttpAgent, CopilotKit) read it: camelCase JSON, one `data:` line
each, with the gateway's own `id:` so a client can rejoin exactly.

Each log event gives zero or more AG-UI events; the i-th of log event `seq` has the id
`<seq>.<i>`. The state that numbering needs (which step, message and tool call is open) is
rebuilt by reading the log from its start, so a reader that rejoins mid-run gives exactly what a
reader from the start gave after that point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.events import Event, EventName, event_data
from app.payload import dumps

AgUiEvent = dict[str, Any]

# What the run's end means for AG-UI's RUN_FINISHED outcome.
_CANCELLED = "cancelled"


def parse_position(value: str) -> tuple[int, int]:
    """`<seq>.<i>` → (seq, i); ValueError when it is not one."""
    seq, dot, index = value.strip().partition(".")
    if not dot or not seq.isdigit() or not index.isdigit() or len(seq) > 18 or len(index) > 6:
        raise ValueError(f"malformed event id {value[:60]!r}: expected '<seq>.<index>'")
    return int(seq), int(index)


def frame(seq: int, index: int, event: AgUiEvent) -> bytes:
    # AG-UI names the event inside its JSON: the frame has no `event:` line, as HttpAgent reads.
    return b"id: %d.%d\ndata: %s\n\n" % (seq, index, dumps(event))


@dataclass(slots=True)
class _Text:
    message_id: str
    text: list[str] = field(default_factory=list)


@dataclass
class AgUiRun:
    """One run's AG-UI events, log event by log event."""

    thread_id: str
    run_id: str
    _steps: dict[str, str] = field(default_factory=dict)  # open span id → node
    _texts: dict[str, _Text] = field(default_factory=dict)  # open message id → its text
    _calls: set[str] = field(default_factory=set)  # tool calls announced
    _interrupts: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False
    ended: bool = False
    # The run's last AG-UI event once it has ended (RUN_FINISHED or RUN_ERROR), for a join.
    terminal: AgUiEvent | None = None

    def events(self, event: Event) -> list[AgUiEvent]:
        if self.ended:
            return []
        handler = _HANDLERS.get(event.name)
        if handler is None:
            return []
        return handler(self, event_data(event.frame) or {})

    # --- what is open, for a join -----------------------------------------------------------

    def reopen(self) -> list[AgUiEvent]:
        """What re-opens what is open now (steps, the text in progress with its text so far),
        for a reader that joins without a position: after it, the live events follow on."""
        out: list[AgUiEvent] = [_step("STEP_STARTED", node) for node in self._steps.values()]
        for text in self._texts.values():
            out.append(_text_start(text.message_id))
            if text.text:
                out.append(_delta(text.message_id, "".join(text.text)))
        return out

    # --- the mapping -------------------------------------------------------------------------

    def _run_start(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        return [{"type": "RUN_STARTED", "threadId": self.thread_id, "runId": self.run_id}]

    def _node_start(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        node = str(fields.get("node"))
        self._steps[str(fields.get("span_id"))] = node
        return [_step("STEP_STARTED", node)]

    def _node_end(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        # A node may build its AI message itself (streaming text, then adding the calls): its
        # calls are in its update.
        out = [
            event
            for message_id, call in _calls_in(fields.get("update"))
            for event in self._call(message_id, call)
        ]
        node = self._steps.pop(str(fields.get("span_id")), None)
        return out if node is None else [*out, _step("STEP_FINISHED", node)]

    def _token(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        delta = str(fields.get("text") or "")
        if not delta:  # AG-UI refuses an empty delta (a chunk of reasoning only has no text)
            return []
        message_id = str(fields.get("message_id") or fields.get("span_id"))
        out: list[AgUiEvent] = []
        text = self._texts.get(message_id)
        if text is None:
            text = self._texts[message_id] = _Text(message_id)
            out.append(_text_start(message_id))
        text.text.append(delta)
        out.append(_delta(message_id, delta))
        return out

    def _llm_end(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        message_id = str(fields.get("message_id") or fields.get("span_id"))
        out: list[AgUiEvent] = []
        if self._texts.pop(message_id, None) is not None:
            out.append({"type": "TEXT_MESSAGE_END", "messageId": message_id})
        for call in fields.get("tool_calls") or ():
            out += self._call(message_id, call)
        return out

    def _call(self, message_id: str, call: dict[str, Any]) -> list[AgUiEvent]:
        call_id = str(call.get("id"))
        if call_id in self._calls:
            return []
        self._calls.add(call_id)
        return [
            {
                "type": "TOOL_CALL_START",
                "toolCallId": call_id,
                "toolCallName": str(call.get("name")),
                "parentMessageId": message_id,
            },
            {
                "type": "TOOL_CALL_ARGS",
                "toolCallId": call_id,
                "delta": orjson.dumps(call.get("args") or {}).decode(),
            },
            {"type": "TOOL_CALL_END", "toolCallId": call_id},
        ]

    def _tool_end(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        call_id = fields.get("tool_call_id")
        if not call_id:
            return []  # a tool no model call asked for (called from a node's own code)
        output = fields.get("output")
        if "error" in fields:
            content = f"{fields['error'].get('type')}: {fields['error'].get('message')}"
        elif isinstance(output, dict) and "content" in output:
            content = output["content"]
        else:
            content = output
        return [
            {
                "type": "TOOL_CALL_RESULT",
                "messageId": tool_message_id(str(call_id)),
                "toolCallId": str(call_id),
                "content": content if isinstance(content, str) else dumps(content).decode(),
                "role": "tool",
            }
        ]

    def _custom(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        return [{"type": "CUSTOM", "name": str(fields.get("name")), "value": fields.get("data")}]

    def _interrupt(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        self._interrupts = list(fields.get("interrupts") or ())
        # For clients before AG-UI 1.0's interrupt outcome, as ag-ui-langgraph says it.
        return [
            {
                "type": "CUSTOM",
                "name": "on_interrupt",
                "value": dumps(pending.get("value")).decode(),
            }
            for pending in self._interrupts
        ]

    def _attempt(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        """Another process continues the run: what the attempt before left open is closed (its
        text and steps are made again, under new ids), and the client told which."""
        out: list[AgUiEvent] = [
            {"type": "TEXT_MESSAGE_END", "messageId": message_id} for message_id in self._texts
        ]
        out += [_step("STEP_FINISHED", node) for node in self._steps.values()]
        self._texts.clear()
        self._steps.clear()
        value = {k: v for k, v in fields.items() if k not in ("run_id", "seq", "ts")}
        out.append({"type": "CUSTOM", "name": "run_attempt", "value": value})
        return out

    def _run_error(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        error = fields.get("error") or {}
        self.failed = True
        self.ended = True  # nothing after RUN_ERROR
        message = f"{error.get('type')}: {error.get('message')}"
        self.terminal = {"type": "RUN_ERROR", "message": message, "code": str(error.get("type"))}
        return [self.terminal]

    def _run_end(self, fields: dict[str, Any]) -> list[AgUiEvent]:
        self.ended = True
        if self.failed:
            return []
        out: list[AgUiEvent] = [_step("STEP_FINISHED", node) for node in self._steps.values()]
        self._steps.clear()
        finished: AgUiEvent = {"type": "RUN_FINISHED", "threadId": self.thread_id}
        finished["runId"] = self.run_id
        status = fields.get("status")
        if status == "interrupted" and self._interrupts:
            finished["outcome"] = {
                "type": "interrupt",
                "interrupts": [
                    {"id": str(p.get("id")), "reason": "interrupt", **_message_of(p)}
                    for p in self._interrupts
                ],
            }
        elif status == _CANCELLED:
            finished["outcome"] = {"type": "cancelled"}
        else:
            # (No `result`: the STATE_SNAPSHOT just before holds the run's output.)
            finished["outcome"] = {"type": "success"}
        self.terminal = finished
        out.append(finished)
        return out


def _calls_in(update: Any) -> list[tuple[str, dict[str, Any]]]:
    """(message id, call) for each tool call of the AI messages in a node's update."""
    if not isinstance(update, dict):
        return []
    calls = []
    for entry in update.values():
        for message in entry if isinstance(entry, list) else [entry]:
            if isinstance(message, dict) and message.get("type") == "ai":
                for call in message.get("tool_calls") or ():
                    if isinstance(call, dict):
                        calls.append((str(message.get("id")), call))
    return calls


def _message_of(pending: dict[str, Any]) -> dict[str, Any]:
    value = pending.get("value")
    if isinstance(value, str):
        return {"message": value}
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return {"message": value["question"], "metadata": {"value": value}}
    return {"metadata": {"value": value}}


def tool_message_id(tool_call_id: str) -> str:
    """The id a tool's answer has in AG-UI, in TOOL_CALL_RESULT and in every snapshot: one id,
    derived from the call it answers (LangGraph gives the message its id only in the state)."""
    return f"tool-{tool_call_id}"


def _step(kind: str, node: str) -> AgUiEvent:
    return {"type": kind, "stepName": node}


def _text_start(message_id: str) -> AgUiEvent:
    return {"type": "TEXT_MESSAGE_START", "messageId": message_id, "role": "assistant"}


def _delta(message_id: str, delta: str) -> AgUiEvent:
    return {"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": delta}


_HANDLERS = {
    EventName.RUN_START: AgUiRun._run_start,
    EventName.NODE_START: AgUiRun._node_start,
    EventName.NODE_END: AgUiRun._node_end,
    EventName.NODE_ERROR: AgUiRun._node_end,
    EventName.TOKEN: AgUiRun._token,
    EventName.LLM_END: AgUiRun._llm_end,
    EventName.TOOL_END: AgUiRun._tool_end,
    EventName.CUSTOM: AgUiRun._custom,
    EventName.RUN_ATTEMPT: AgUiRun._attempt,
    EventName.RUN_INTERRUPT: AgUiRun._interrupt,
    EventName.RUN_ERROR: AgUiRun._run_error,
    EventName.RUN_END: AgUiRun._run_end,
}


def numbered(run: AgUiRun, events: Iterable[Event]) -> Iterable[tuple[int, int, AgUiEvent]]:
    """(seq, index, event) for each AG-UI event the log events give."""
    for event in events:
        for index, out in enumerate(run.events(event)):
            yield event.seq, index, out
