"""The AI SDK's UI message stream parts from a run's log: pure. The same log every dialect reads,
said the way `useChat` reads it (the `v1` UI message stream): one assistant message per turn,
its text, tool calls, approvals and data parts, each part one `data:` line of JSON with the
gateway's own `id:` so a client can rejoin exactly.

Each log event gives zero or more parts; the i-th part of log event `seq` of run `r` has the id
`<r>.<seq>.<i>`. The state that numbering needs (which text part and tool call is open) is
rebuilt by reading the log from its start, so a reader that rejoins mid-run gets exactly what
a reader from the start got after that point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.events import Event, EventName, event_data
from app.payload import dumps

Part = dict[str, Any]

_POSITION_RE = re.compile(r"([A-Za-z0-9_-]{1,100})\.([0-9]{1,18})\.([0-9]{1,6})")

# The tool name an interrupt is shown under when its value names no tool.
GENERIC_APPROVAL = "interrupt"
# What an approved call shows as its output until (or unless) the tool's own output comes.
APPROVED = {"approved": True}


def parse_position(value: str) -> tuple[str, int, int]:
    """`<run_id>.<seq>.<index>` → (run_id, seq, index); ValueError when it is not one."""
    match = _POSITION_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"malformed event id {value[:140]!r}: expected '<run_id>.<seq>.<index>'")
    return match[1], int(match[2]), int(match[3])


def frame(run_id: str, seq: int, index: int, part: Part | str) -> bytes:
    # The stream names each part inside its JSON: no `event:` line, as useChat's parser reads.
    data = part.encode() if isinstance(part, str) else dumps(part)
    return b"id: %s.%d.%d\ndata: %s\n\n" % (run_id.encode(), seq, index, data)


def approval_call_id(interrupt_id: str, action: int | None = None) -> str:
    """The tool call an interrupt is shown as when no tool call of the run asked for it."""
    return f"interrupt-{interrupt_id}" if action is None else f"interrupt-{interrupt_id}-{action}"


def actions_of(value: Any) -> list[dict[str, Any]] | None:
    """The actions of LangChain's HumanInTheLoopMiddleware request (`create_agent`'s approvals:
    `{"action_requests": [{name, args, description?}], "review_configs": …}`); None for any
    other interrupt value."""
    if not isinstance(value, dict) or not isinstance(value.get("action_requests"), list):
        return None
    actions = value["action_requests"]
    return actions if all(isinstance(a, dict) for a in actions) else None


def action_approval_id(interrupt_id: str, action: int) -> str:
    """An approval per action of one middleware interrupt: they are answered together."""
    return f"{interrupt_id}:{action}"


@dataclass(frozen=True, slots=True)
class Answered:
    """An approval this run answers (it continues the message that asked)."""

    approval_id: str
    tool_call_id: str
    approved: bool
    reason: str | None = None


@dataclass
class UiRun:
    """One run's parts, log event by log event. `message_id` is the assistant message the run
    writes into; `answered` the approvals it continues from (a run that resumes a thread)."""

    run_id: str
    message_id: str
    answered: tuple[Answered, ...] = ()
    # Tool calls the message already shows (from the runs it continues): never shown twice.
    shown: frozenset[str] = frozenset()
    _texts: dict[str, list[str]] = field(default_factory=dict)  # open text part → its text
    # Open reasoning parts, in the order they opened (a set's order differs between processes,
    # and a rejoin elsewhere must number the parts the same).
    _reasoning: dict[str, None] = field(default_factory=dict)
    _calls: set[str] = field(default_factory=set)  # tool calls shown
    _asked: dict[str, tuple[str, Any]] = field(default_factory=dict)  # model's call → name, args
    _resolved: set[str] = field(default_factory=set)  # tool calls with an outcome shown
    _tool_inputs: dict[str, Any] = field(default_factory=dict)  # span → a tool's input
    _interrupts: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False
    ended: bool = False

    def __post_init__(self) -> None:
        self._calls.update(self.shown)

    @property
    def calls(self) -> set[str]:
        return self._calls

    def parts(self, event: Event) -> list[Part | str]:
        """The parts one log event gives; the last event's end with the stream's `[DONE]`."""
        if self.ended:
            return []
        handler = _HANDLERS.get(event.name)
        if handler is None:
            return []
        return handler(self, event_data(event.frame) or {})

    # --- the mapping -------------------------------------------------------------------------

    def _run_start(self, fields: dict[str, Any]) -> list[Part | str]:
        out: list[Part | str] = [{"type": "start", "messageId": self.message_id}]
        out.append({"type": "start-step"})
        # The approvals the run answers are resolved in its first step: an answered approval
        # left open makes useChat send it again.
        for answer in self.answered:
            self._calls.add(answer.tool_call_id)
            self._resolved.add(answer.tool_call_id)
            if answer.approved:
                out.append(_output(answer.tool_call_id, APPROVED))
            else:
                out.append({"type": "tool-output-denied", "toolCallId": answer.tool_call_id})
        return out

    def _node_start(self, fields: dict[str, Any]) -> list[Part | str]:
        return [_node_part(fields, "running")]

    def _node_end(self, fields: dict[str, Any]) -> list[Part | str]:
        # A node may build its AI message itself (streaming text, then adding the calls): its
        # calls are in its update.
        out: list[Part | str] = [
            part for call in _calls_in(fields.get("update")) for part in self._call(call)
        ]
        return [*out, _node_part(fields, "done")]

    def _node_error(self, fields: dict[str, Any]) -> list[Part | str]:
        return [_node_part(fields, "error")]

    def _token(self, fields: dict[str, Any]) -> list[Part | str]:
        part_id = str(fields.get("message_id") or fields.get("span_id"))
        out: list[Part | str] = []
        reasoning = str(fields.get("reasoning") or "")
        if reasoning:
            reasoning_id = f"{part_id}:reasoning"
            if reasoning_id not in self._reasoning:
                self._reasoning[reasoning_id] = None
                out.append({"type": "reasoning-start", "id": reasoning_id})
            out.append({"type": "reasoning-delta", "id": reasoning_id, "delta": reasoning})
        delta = str(fields.get("text") or "")
        if not delta:
            return out
        if not reasoning and f"{part_id}:reasoning" in self._reasoning:
            # The answer begins: the reasoning before it is done.
            del self._reasoning[f"{part_id}:reasoning"]
            out.append({"type": "reasoning-end", "id": f"{part_id}:reasoning"})
        text = self._texts.get(part_id)
        if text is None:
            text = self._texts[part_id] = []
            out.append({"type": "text-start", "id": part_id})
        text.append(delta)
        out.append({"type": "text-delta", "id": part_id, "delta": delta})
        return out

    def _llm_end(self, fields: dict[str, Any]) -> list[Part | str]:
        part_id = str(fields.get("message_id") or fields.get("span_id"))
        out: list[Part | str] = []
        if f"{part_id}:reasoning" in self._reasoning:
            del self._reasoning[f"{part_id}:reasoning"]
            out.append({"type": "reasoning-end", "id": f"{part_id}:reasoning"})
        if self._texts.pop(part_id, None) is not None:
            out.append({"type": "text-end", "id": part_id})
        for call in fields.get("tool_calls") or ():
            out += self._call(call)
        return out

    def _call(self, call: dict[str, Any]) -> list[Part | str]:
        call_id = str(call.get("id"))
        if call_id in self._calls:
            return []
        self._calls.add(call_id)
        self._asked[call_id] = (str(call.get("name")), call.get("args") or {})
        return _announce(call_id, str(call.get("name")), call.get("args") or {})

    def _tool_start(self, fields: dict[str, Any]) -> list[Part | str]:
        self._tool_inputs[str(fields.get("span_id"))] = fields.get("input")
        return []

    def _tool_end(self, fields: dict[str, Any]) -> list[Part | str]:
        span_id = str(fields.get("span_id"))
        given_input = self._tool_inputs.pop(span_id, None)
        call_id = fields.get("tool_call_id")
        out: list[Part | str] = []
        if call_id is None:
            # A tool a node called from its own code (no model asked for it): shown as a call
            # of its own, named by its span.
            call_id = span_id
            self._calls.add(call_id)
            out += _announce(call_id, str(fields.get("tool")), given_input)
        elif str(call_id) not in self._calls:
            self._calls.add(str(call_id))
            out += _announce(str(call_id), str(fields.get("tool")), given_input)
        call_id = str(call_id)
        self._resolved.add(call_id)
        if "error" in fields:
            error = fields["error"] or {}
            text = f"{error.get('type')}: {error.get('message')}"
            out.append({"type": "tool-output-error", "toolCallId": call_id, "errorText": text})
        else:
            out.append(_output(call_id, fields.get("output")))
        return out

    def _custom(self, fields: dict[str, Any]) -> list[Part | str]:
        name = str(fields.get("name"))
        data = fields.get("data")
        # One part per event name (and node), updated in place as events follow; a payload
        # with an id of its own has a part of its own.
        own = data.get("id") if isinstance(data, dict) else None
        node = fields.get("node")
        part_id = str(own) if isinstance(own, str) else f"{name}:{node}" if node else name
        return [{"type": f"data-{name}", "id": part_id, "data": data}]

    def _interrupt(self, fields: dict[str, Any]) -> list[Part | str]:
        self._interrupts = list(fields.get("interrupts") or ())
        out: list[Part | str] = []
        for pending in self._interrupts:
            interrupt_id = str(pending.get("id"))
            value = pending.get("value")
            actions = actions_of(value)
            if actions is not None:
                out += self._action_approvals(interrupt_id, actions)
                continue
            named = value.get("tool_call_id") if isinstance(value, dict) else None
            if isinstance(named, str) and named in self._calls and named not in self._resolved:
                call_id = named  # the interrupt asks about a call the stream has shown
            else:
                call_id = approval_call_id(interrupt_id)
                tool, given = approval_request(value)
                out += _announce(call_id, tool, given)
            out.append(
                {"type": "tool-approval-request", "approvalId": interrupt_id, "toolCallId": call_id}
            )
        return out

    def _action_approvals(
        self, interrupt_id: str, actions: list[dict[str, Any]]
    ) -> list[Part | str]:
        """The middleware asks about calls the model made (by name and arguments, not id):
        each is asked on the call the stream showed, else on a call of its own."""
        out: list[Part | str] = []
        unasked = [c for c in self._asked if c not in self._resolved]
        for index, action in enumerate(actions):
            wanted = (str(action.get("name")), action.get("args") or {})
            call_id = next((c for c in unasked if self._asked[c] == wanted), None)
            if call_id is None:
                call_id = approval_call_id(interrupt_id, index)
                out += _announce(call_id, *wanted)
            else:
                unasked.remove(call_id)
            request: Part = {
                "type": "tool-approval-request",
                "approvalId": action_approval_id(interrupt_id, index),
                "toolCallId": call_id,
            }
            if isinstance(action.get("description"), str):
                request["reason"] = action["description"]
            out.append(request)
        return out

    def _attempt(self, fields: dict[str, Any]) -> list[Part | str]:
        """Another process continues the run: what the attempt before left open is closed (its
        text is made again, under new ids), and the client told which."""
        out = self._close_texts()
        value = {k: v for k, v in fields.items() if k not in ("run_id", "seq", "ts")}
        out.append({"type": "data-run-attempt", "id": "run-attempt", "data": value})
        return out

    def _run_error(self, fields: dict[str, Any]) -> list[Part | str]:
        error = fields.get("error") or {}
        self.failed = True
        return [
            *self._close_texts(),
            {"type": "error", "errorText": f"{error.get('type')}: {error.get('message')}"},
        ]

    def _run_end(self, fields: dict[str, Any]) -> list[Part | str]:
        self.ended = True
        status = fields.get("status")
        if status == "cancelled":
            return [*self._close_texts(), {"type": "abort", "reason": "cancelled"}, "[DONE]"]
        if self.failed:
            reason = "error"
        elif status == "interrupted" and self._interrupts:
            # Not a reason that ends the chat: useChat sends the approvals' answers.
            reason = "tool-calls"
        else:
            reason = "stop"
        end: list[Part | str] = [
            {"type": "finish-step"},
            {"type": "finish", "finishReason": reason},
        ]
        return [*self._close_texts(), *end, "[DONE]"]

    def _close_texts(self) -> list[Part | str]:
        """Ends the reasoning and text parts still open."""
        closed: list[Part | str] = [{"type": "reasoning-end", "id": i} for i in self._reasoning]
        closed += [{"type": "text-end", "id": part_id} for part_id in self._texts]
        self._reasoning.clear()
        self._texts.clear()
        return closed


def approval_request(value: Any) -> tuple[str, Any]:
    """The tool name and input an interrupt's value asks approval for: `{"tool", "args"}` (as
    the demo asks), `{"name", "args"}`, or any other value as a generic approval of itself."""
    if isinstance(value, dict):
        tool = value.get("tool") or value.get("name")
        if isinstance(tool, str) and tool:
            given = value.get("args", value.get("input", value))
            return tool, given
    return GENERIC_APPROVAL, value


def _announce(call_id: str, tool: str, given: Any) -> list[Part | str]:
    # The graph's tools are not declared to the client: they are dynamic tools to it.
    start = {"type": "tool-input-start", "toolCallId": call_id, "toolName": tool, "dynamic": True}
    available = {**start, "type": "tool-input-available", "input": given}
    return [start, available]


def _output(call_id: str, output: Any) -> Part:
    return {
        "type": "tool-output-available",
        "toolCallId": call_id,
        "output": output,
        "dynamic": True,
    }


def _node_part(fields: dict[str, Any], status: str) -> Part:
    # Node progress, one part per node run, updated in place.
    data = {"node": fields.get("node"), "status": status}
    return {"type": "data-node", "id": str(fields.get("span_id")), "data": data}


def _calls_in(update: Any) -> list[dict[str, Any]]:
    """The tool calls of the AI messages in a node's update."""
    if not isinstance(update, dict):
        return []
    calls = []
    for entry in update.values():
        for message in entry if isinstance(entry, list) else [entry]:
            if isinstance(message, dict) and message.get("type") == "ai":
                calls += [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    return calls


_HANDLERS = {
    EventName.RUN_START: UiRun._run_start,
    EventName.NODE_START: UiRun._node_start,
    EventName.NODE_END: UiRun._node_end,
    EventName.NODE_ERROR: UiRun._node_error,
    EventName.TOKEN: UiRun._token,
    EventName.LLM_END: UiRun._llm_end,
    EventName.TOOL_START: UiRun._tool_start,
    EventName.TOOL_END: UiRun._tool_end,
    EventName.CUSTOM: UiRun._custom,
    EventName.RUN_ATTEMPT: UiRun._attempt,
    EventName.RUN_INTERRUPT: UiRun._interrupt,
    EventName.RUN_ERROR: UiRun._run_error,
    EventName.RUN_END: UiRun._run_end,
}
