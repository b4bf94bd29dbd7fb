"""A run's log as the channels of LangGraph's thread streaming protocol. Pure: no I/O.

LangGraph's frontends (`@langchain/react`'s useStream, `client.threads.stream`) read a thread as
one stream of events, each `{type: "event", event_id, seq, method, params: {namespace,
timestamp, data, node?}}` on a channel (lifecycle, messages, values, updates, tools, input,
custom, checkpoints, tasks). Every one of them is derived here from what the run recorded once,
the gateway's own events, so any channel can be read for any run, from any position, by any
number of readers. The state after each step and the checkpoints (`values`, `checkpoints`) are
not in the log: the checkpointer has them, and they are read from it where the log says a step
has ended (a StateAt in the output; see thread_log.py).

Positions: `seq` numbers a thread's events durably: a run's place among its thread's runs, the
seq of the log event, and the event's place among those that log event gives. Gaps are allowed;
order and uniqueness are what the cursors need. `event_id` spells the same position.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.events import Event, EventName, RunStatus
from app.payload import dumps
from app.translate import INTERRUPT_KEY

RUN_SPAN = 10**11  # seqs per run: a thread holds up to 90,000 runs
EVENT_SPAN = 1000  # seqs per log event: a run holds up to 10**8 of them

CHANNELS = frozenset(
    {
        "values",
        "updates",
        "messages",
        "tools",
        "custom",
        "lifecycle",
        "input",
        "tasks",
        "checkpoints",
    }
)
# The channel each method is on.
CHANNEL_OF = {"input.requested": "input"}

# How a run's end shows as the root's terminal lifecycle event. A cancelled run is
# "interrupted", as LangGraph's server says of a run stopped by a client.
TERMINAL = {
    RunStatus.SUCCESS: "completed",
    RunStatus.ERROR: "failed",
    RunStatus.INTERRUPTED: "interrupted",
    RunStatus.CANCELLED: "interrupted",
}


def run_base(ordinal: int) -> int:
    """The seq before the first event of a thread's run number `ordinal` (from 0)."""
    return ordinal * RUN_SPAN


def ordinal_of(seq: int) -> int:
    return seq // RUN_SPAN


def log_seq_of(seq: int) -> int:
    return (seq % RUN_SPAN) // EVENT_SPAN


def is_channel(name: str) -> bool:
    return name in CHANNELS or (name.startswith("custom:") and len(name) > len("custom:"))


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One event of the protocol, before its envelope."""

    seq: int
    event_id: str
    method: str
    namespace: list[str]
    timestamp: int
    data: Any
    node: str | None = None

    @property
    def channel(self) -> str:
        return CHANNEL_OF.get(self.method, self.method)

    def envelope(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "namespace": self.namespace,
            "timestamp": self.timestamp,
            "data": self.data,
        }
        if self.node is not None:
            params["node"] = self.node
        return {
            "type": "event",
            "event_id": self.event_id,
            "seq": self.seq,
            "method": self.method,
            "params": params,
        }

    def json(self) -> bytes:
        return dumps(self.envelope())

    def frame(self) -> bytes:
        # The method is one of ours; the id a number: neither can break the SSE line.
        return b"event: %s\nid: %d\ndata: %s\n\n" % (self.method.encode(), self.seq, self.json())


@dataclass(frozen=True, slots=True)
class Filter:
    """What a subscription asks for: channels, and namespaces (prefixes) with a depth below
    them, as LangGraph's server matches them."""

    channels: frozenset[str]
    namespaces: tuple[tuple[str, ...], ...] | None = None
    depth: int | None = None

    def matches(self, event: ChannelEvent) -> bool:
        if not self._on_channel(event):
            return False
        if self.namespaces is None:
            return self.depth is None or len(event.namespace) <= self.depth
        return any(self._under(event.namespace, prefix) for prefix in self.namespaces)

    def _on_channel(self, event: ChannelEvent) -> bool:
        channel = event.channel
        if channel in self.channels:
            return True
        if channel != "custom" or not isinstance(event.data, dict):
            return False
        return f"custom:{event.data.get('name')}" in self.channels

    def _under(self, namespace: list[str], prefix: tuple[str, ...]) -> bool:
        if len(prefix) > len(namespace):
            return False
        for segment, candidate in zip(prefix, namespace, strict=False):
            # A segment without ":" names a node, and matches any of its tasks ("draft:<id>").
            if candidate != segment and (":" in segment or candidate.split(":")[0] != segment):
                return False
        return self.depth is None or len(namespace) - len(prefix) <= self.depth


def _data(frame: bytes) -> Any:
    start = frame.index(b"\ndata: ") + 7 if not frame.startswith(b"data: ") else 6
    return orjson.loads(frame[start : frame.index(b"\n", start)])


@dataclass(slots=True)
class _Message:
    namespace: list[str]
    node: str | None
    text: list[str] = field(default_factory=list)


@dataclass
class RunChannels:
    """The protocol's events of one run, from its log events in order. Its state (open
    messages, subgraph namespaces) is rebuilt by reading the log from its start, so a reader
    that resumes mid-run gives exactly what a reader from the start gave after that point."""

    run_id: str
    base: int  # run_base(ordinal)
    graph_name: str = ""
    _ts: int = 0
    _messages: dict[str, _Message] = field(default_factory=dict)
    _tasks: dict[str, str] = field(default_factory=dict)  # span id → task id
    _namespaces: dict[tuple[str, ...], str] = field(default_factory=dict)  # open → graph name
    _error: str | None = None
    _placed: dict[tuple[str, ...], float] = field(default_factory=dict)  # ns → last step placed
    # The model's tool calls not yet answered, and the call each running tool answers.
    _calls: list[dict[str, Any]] = field(default_factory=list)
    _call_of: dict[str, str] = field(default_factory=dict)  # tool span → tool call id
    _call_ids: set[Any] = field(default_factory=set)
    _steps: dict[tuple[str, ...], set[int]] = field(default_factory=dict)  # ns → steps it ran

    def items(self, event: Event) -> tuple[int, list[Item]]:
        """The timestamp of a log event, and what it gives: events, and where the state
        after some steps goes (StateAt)."""
        handler = _HANDLERS.get(event.name)
        if handler is None:
            return self._ts, []
        fields = _data(event.frame)
        self._ts = fields.get("ts", self._ts)
        return self._ts, handler(self, fields)

    def _state(self, ns: list[str], upto: float, ours: bool = False) -> list[Item]:
        """The steps of a namespace not yet placed, up to `upto`, go here; `ours` when this
        run wrote step `upto` (else an earlier run did: a resumed run starts mid-thread)."""
        key = tuple(ns)
        done = self._placed.get(key, -math.inf)
        if upto <= done:
            return []
        self._placed[key] = upto
        return [StateAt(list(ns), done, upto, ours=ours)]

    def _run_start(self, fields: dict[str, Any]) -> list[Item]:
        self.graph_name = fields.get("graph") or ""
        out: list[Item] = [
            ("lifecycle", [], {"event": "running", "graph_name": self.graph_name}, None)
        ]
        if fields.get("command") is not None:
            # A resumed run goes on from a checkpoint an earlier run wrote: its state first.
            out.append(StateAt([], -math.inf, -math.inf, resumed=True))
        return out

    def _node_start(self, fields: dict[str, Any]) -> list[Item]:
        ns = fields.get("ns") or []
        node = fields.get("node")
        out: list[Item] = []
        # A subgraph's first node: the subgraph has started, in its namespace.
        for depth in range(1, len(ns) + 1):
            key = tuple(ns[:depth])
            if key not in self._namespaces:
                graph_name = key[-1].split(":")[0]
                self._namespaces[key] = graph_name
                started = {
                    "event": "started",
                    "namespace": list(key),
                    "graph_name": graph_name,
                    # The task that runs it, as LangGraph's own lifecycle events say.
                    "trigger_call_id": key[-1].partition(":")[2],
                }
                out.append(("lifecycle", list(key), started, None))
        step = fields.get("step")
        if isinstance(step, int):
            # A node of step n starts once the steps before it have been checkpointed: by
            # this run if it ran step n - 1, or started the graph (or subgraph) afresh.
            ran = self._steps.setdefault(tuple(ns), set())
            out += self._state(ns, step - 1, ours=step - 1 in ran or (step == 1 and not ran))
            ran.add(step)
        task_id = fields.get("task_id") or fields.get("span_id")
        self._tasks[fields.get("span_id", "")] = task_id
        data = {"id": task_id, "name": node, "triggers": fields.get("triggers") or []}
        out.append(("tasks", ns, data, node))
        return out

    def _ended_task(self, fields: dict[str, Any]) -> tuple[list[str], str | None, str | None]:
        """The namespace, node and task id of a node that has ended."""
        task_id = self._tasks.pop(fields.get("span_id", ""), fields.get("span_id"))
        return fields.get("ns") or [], fields.get("node"), task_id

    def _node_end(self, fields: dict[str, Any]) -> list[Item]:
        ns, node, task_id = self._ended_task(fields)
        out = self._close_children(ns, f"{node}:{task_id}", "completed")
        update = fields.get("update")
        self._remember(_tool_calls_in(update))
        values = protocol_state(update) if isinstance(update, dict) else {"value": update}
        out.append(("updates", ns, {"node": node, "values": values}, node))
        result = {"id": task_id, "name": node, "error": None, "result": update, "interrupts": []}
        out.append(("tasks", ns, result, node))
        return out

    def _node_error(self, fields: dict[str, Any]) -> list[Item]:
        ns, node, task_id = self._ended_task(fields)
        error = fields.get("error") or {}
        message = f"{error.get('type')}: {error.get('message')}"
        out = self._close_children(ns, f"{node}:{task_id}", "failed", message)
        result = {"id": task_id, "name": node, "error": message, "result": None, "interrupts": []}
        out.append(("tasks", ns, result, node))
        return out

    def _close_children(
        self, ns: list[str], segment: str, status: str, error: str | None = None
    ) -> list[Item]:
        """The subgraphs a node ran end with it (theirs is the last event in their namespace)."""
        parent = (*ns, segment)
        closing = [key for key in self._namespaces if key[: len(parent)] == parent]
        return self._close(sorted(closing, key=len, reverse=True), status, error)

    def _close(self, keys: Iterable[tuple[str, ...]], status: str, error: str | None) -> list[Item]:
        out: list[Item] = []
        for key in keys:
            out += self._state(list(key), math.inf)
            data: dict[str, Any] = {"event": status, "graph_name": self._namespaces.pop(key)}
            if error is not None:
                data["error"] = error
            out.append(("lifecycle", list(key), data, None))
        return out

    def _token(self, fields: dict[str, Any]) -> list[Item]:
        if not fields.get("text"):
            return []  # a chunk of reasoning only: the messages channel carries text
        message_id = fields.get("message_id") or fields.get("span_id") or ""
        node = fields.get("node")
        out: list[Item] = []
        message = self._messages.get(message_id)
        ns = fields.get("ns") or []
        if message is None:
            message = self._messages[message_id] = _Message(ns, node)
            out.append(
                ("messages", ns, {"event": "message-start", "role": "ai", "id": message_id}, node)
            )
            block = {"type": "text", "text": ""}
            out.append(
                (
                    "messages",
                    ns,
                    {"event": "content-block-start", "index": 0, "content": block},
                    node,
                )
            )
        text = fields.get("text") or ""
        message.text.append(text)
        delta = {"type": "text-delta", "text": text}
        out.append(
            ("messages", ns, {"event": "content-block-delta", "index": 0, "delta": delta}, node)
        )
        return out

    def _llm_end(self, fields: dict[str, Any]) -> list[Item]:
        message_id = fields.get("message_id") or fields.get("span_id") or ""
        message = self._messages.pop(message_id, None)
        calls = fields.get("tool_calls") or []
        self._remember(calls)
        if message is None and not calls:
            return []  # a model that streamed nothing: its message is in the state
        ns, node = fields.get("ns") or [], fields.get("node")
        out: list[Item] = []
        index = 0
        if message is None:
            out.append(
                ("messages", ns, {"event": "message-start", "role": "ai", "id": message_id}, node)
            )
        else:
            text = {"type": "text", "text": "".join(message.text)}
            out.append(
                (
                    "messages",
                    ns,
                    {"event": "content-block-finish", "index": 0, "content": text},
                    node,
                )
            )
            index = 1
        for offset, call in enumerate(calls):
            block = {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("name"),
                "args": call.get("args"),
            }
            i = index + offset
            out.append(
                (
                    "messages",
                    ns,
                    {"event": "content-block-start", "index": i, "content": block},
                    node,
                )
            )
            out.append(
                (
                    "messages",
                    ns,
                    {"event": "content-block-finish", "index": i, "content": block},
                    node,
                )
            )
        finish: dict[str, Any] = {"event": "message-finish"}
        if fields.get("usage"):
            finish["usage"] = fields["usage"]
        out.append(("messages", ns, finish, node))
        return out

    def _tool_start(self, fields: dict[str, Any]) -> list[Item]:
        span_id = fields.get("span_id") or ""
        call_id = self._answered_call(fields.get("tool"), fields.get("input")) or span_id
        self._call_of[span_id] = call_id
        data = {
            "event": "tool-started",
            "tool_call_id": call_id,
            "tool_name": fields.get("tool"),
            "input": fields.get("input"),
        }
        return [("tools", fields.get("ns") or [], data, fields.get("node"))]

    def _remember(self, calls: list[dict[str, Any]]) -> None:
        # A model's calls are in its llm.end and again in the node's update.
        for call in calls:
            if call.get("id") not in self._call_ids:
                self._call_ids.add(call.get("id"))
                self._calls.append(call)

    def _answered_call(self, tool: Any, arguments: Any) -> str | None:
        """The model's call a tool answers: LangChain's events name it only when the tool
        ends, so the earliest unanswered call of that tool with those arguments (a ToolNode
        runs each call of an AI message once), or of that tool."""
        candidates = [c for c in self._calls if c.get("name") == tool]
        chosen = next((c for c in candidates if c.get("args") == arguments), None)
        chosen = chosen or (candidates[0] if candidates else None)
        if chosen is None:
            return None
        self._calls.remove(chosen)
        return chosen.get("id")

    def _tool_end(self, fields: dict[str, Any]) -> list[Item]:
        ns, node = fields.get("ns") or [], fields.get("node")
        span_id = fields.get("span_id") or ""
        call_id = self._call_of.pop(span_id, None) or fields.get("tool_call_id") or span_id
        error = fields.get("error")
        if error is not None:
            data = {
                "event": "tool-error",
                "tool_call_id": call_id,
                "message": f"{error.get('type')}: {error.get('message')}",
            }
        else:
            data = {
                "event": "tool-finished",
                "tool_call_id": call_id,
                "output": fields.get("output"),
            }
        return [("tools", ns, data, node)]

    def _custom(self, fields: dict[str, Any]) -> list[Item]:
        data: dict[str, Any] = {"payload": fields.get("data")}
        name = fields.get("name")
        if name and name != "custom":  # the writer's events have no name of their own
            data = {"name": name, **data}
        return [("custom", fields.get("ns") or [], data, fields.get("node"))]

    def _interrupt(self, fields: dict[str, Any]) -> list[Item]:
        return self._state([], math.inf) + [
            (
                "input.requested",
                [],
                {"interrupt_id": i.get("id"), "payload": i.get("value")},
                i.get("node"),
            )
            for i in fields.get("interrupts") or []
        ]

    def _run_error(self, fields: dict[str, Any]) -> list[Item]:
        error = fields.get("error") or {}
        self._error = f"{error.get('type')}: {error.get('message')}"
        return []

    def _run_end(self, fields: dict[str, Any]) -> list[Item]:
        status = TERMINAL.get(RunStatus(fields.get("status", "success")), "completed")
        error = self._error if status == "failed" else None
        # Namespaces still open (a subgraph paused at an interrupt) end before the root.
        out = self._close(sorted(self._namespaces, key=len, reverse=True), status, error)
        out += self._state([], math.inf)
        data: dict[str, Any] = {"event": status, "graph_name": self.graph_name}
        if error is not None:
            data["error"] = error
        out.append(("lifecycle", [], data, None))
        return out


@dataclass(frozen=True, slots=True)
class StateAt:
    """Here go the checkpoints of namespace `ns` with after < step <= upto, each with the
    state it holds (`values`), as the checkpointer has them."""

    ns: list[str]
    after: float
    upto: float
    resumed: bool = False  # the checkpoint the run went on from, not one it wrote
    ours: bool = False  # step `upto` is this run's to write (a live reader may wait for it)


_Out = tuple[str, list[str], Any, "str | None"]
Item = _Out | StateAt


_MESSAGE_TYPES = {"human", "ai", "system", "tool", "function", "remove"}
_ROLES = {"user": "human", "assistant": "ai"}


def protocol_state(value: Any) -> Any:
    """State as the protocol shows it (LangGraph's server does the same): messages in their
    compact form, without LangChain's empty fields; no `__interrupt__`."""
    if isinstance(value, list):
        return [_message(item) if _is_message(item) else protocol_state(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: protocol_state(entry) for key, entry in value.items() if key != INTERRUPT_KEY}


def _is_message(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _ROLES.get(value.get("type"), value.get("type")) in _MESSAGE_TYPES
    )


def _message(value: dict[str, Any]) -> dict[str, Any]:
    kind = _ROLES.get(value["type"], value["type"])
    message: dict[str, Any] = {"type": kind, "content": value.get("content", "")}
    for key in ("id", "name"):
        if isinstance(value.get(key), str):
            message[key] = value[key]
    if kind in ("ai", "human") and isinstance(value.get("example"), bool):
        message["example"] = value["example"]
    if isinstance(value.get("response_metadata"), dict) and value["response_metadata"]:
        message["response_metadata"] = value["response_metadata"]
    if kind == "tool":
        if isinstance(value.get("tool_call_id"), str):
            message["tool_call_id"] = value["tool_call_id"]
        if value.get("status") in ("success", "error"):
            message["status"] = value["status"]
        if "artifact" in value:
            message["artifact"] = value["artifact"]
    if kind == "ai":
        calls = [
            {"type": "tool_call", "name": c["name"], "args": c.get("args") or {}, **_id_of(c)}
            for c in value.get("tool_calls") or []
            if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        if calls:
            message["tool_calls"] = calls
        if value.get("invalid_tool_calls"):
            message["invalid_tool_calls"] = value["invalid_tool_calls"]
    return message


def _id_of(call: dict[str, Any]) -> dict[str, Any]:
    return {"id": call["id"]} if isinstance(call.get("id"), str) else {}


def _tool_calls_in(update: Any) -> list[dict[str, Any]]:
    """The tool calls of the AI messages a node returned (a graph may build them itself)."""
    if not isinstance(update, dict):
        return []
    calls: list[dict[str, Any]] = []
    for entry in update.values():
        for message in entry if isinstance(entry, list) else [entry]:
            if isinstance(message, dict) and message.get("type") == "ai":
                calls += [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return calls


def numbered(
    run_id: str, base: int, log_seq: int, ts: int, out: Iterable[_Out]
) -> list[ChannelEvent]:
    """The events one log event gave, at their positions."""
    first = base + log_seq * EVENT_SPAN
    return [
        ChannelEvent(first + i, f"{run_id}:{log_seq}:{i}", method, ns, ts, data, node)
        for i, (method, ns, data, node) in enumerate(out)
    ]


_HANDLERS = {
    EventName.RUN_START: RunChannels._run_start,
    EventName.NODE_START: RunChannels._node_start,
    EventName.NODE_END: RunChannels._node_end,
    EventName.NODE_ERROR: RunChannels._node_error,
    EventName.TOKEN: RunChannels._token,
    EventName.LLM_END: RunChannels._llm_end,
    EventName.TOOL_START: RunChannels._tool_start,
    EventName.TOOL_END: RunChannels._tool_end,
    EventName.CUSTOM: RunChannels._custom,
    EventName.RUN_INTERRUPT: RunChannels._interrupt,
    EventName.RUN_ERROR: RunChannels._run_error,
    EventName.RUN_END: RunChannels._run_end,
}
