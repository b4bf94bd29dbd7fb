"""LangGraph `astream_events(version="v2")` → gateway events. Pure: no I/O, no clock of its own.

Everything this project knows about the shape of LangGraph's raw events lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command, Send

from app.events import EventName

Emitted = list[tuple[str, dict[str, Any]]]

# LangGraph tags a chat model call that must not stream with one of these.
NOSTREAM_TAGS = frozenset({"nostream", "langsmith:nostream"})
# get_stream_writer() output reaches astream_events only when "custom" is among the stream
# modes; it then arrives as the root chain's on_chain_stream chunk ("custom", data). "updates"
# brings the ("updates", {"__interrupt__": ...}) chunk: a graph that pauses at interrupt()
# otherwise ends its stream exactly as one that finished.
STREAM_MODE = ["custom", "updates"]
INTERRUPT_KEY = "__interrupt__"

# The LangGraph server's stream modes the gateway records for its LangGraph dialect, and the
# LangGraph stream mode each needs (the server's "messages-tuple" is LangGraph's "messages",
# and so is its "messages", which accumulates each message's chunks; "events" are
# astream_events' own). Recorded events are named "langgraph:<wire name>".
LANGGRAPH_MODES: dict[str, str | None] = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "messages": "messages",
    "custom": "custom",
    "checkpoints": "checkpoints",
    "tasks": "tasks",
    "debug": "debug",
    "events": None,
}
# The events each server mode sends, where that is not the mode's own name.
WIRE_EVENTS = {
    "messages-tuple": ("messages",),
    "messages": ("messages/metadata", "messages/partial", "messages/complete"),
}
DIALECT_EVENT = "langgraph:"


def wire_events(server_mode: str) -> tuple[str, ...]:
    """The SSE event names LangGraph's server sends for one of its stream modes."""
    return WIRE_EVENTS.get(server_mode, (server_mode,))


def stream_modes(recorded: frozenset[str]) -> list[str]:
    """What to ask astream_events for: the gateway's own modes and those recorded."""
    modes = list(STREAM_MODE)
    for server_mode in sorted(recorded):
        mode = LANGGRAPH_MODES[server_mode]
        if mode is not None and mode not in modes:
            modes.append(mode)
    return modes


def to_command(command: dict[str, Any]) -> Command:
    """LangGraph's Command from a client's JSON: `goto` may name nodes, or send input to one
    ({"node", "input"}, LangGraph's Send)."""
    fields = dict(command)
    goto = fields.get("goto")
    if goto is not None:
        targets = goto if isinstance(goto, list) else [goto]
        sends = [Send(t["node"], t.get("input")) if isinstance(t, dict) else t for t in targets]
        fields["goto"] = sends if isinstance(goto, list) else sends[0]
    return Command(**fields)


def _stream_chunk(chunk: Any) -> tuple[tuple[str, ...], str, Any] | None:
    """A root on_chain_stream chunk as (namespace, mode, data): `(mode, data)`, or with
    subgraphs `(namespace, mode, data)`."""
    if isinstance(chunk, tuple):
        if len(chunk) == 2 and isinstance(chunk[0], str):
            return (), chunk[0], chunk[1]
        if len(chunk) == 3 and isinstance(chunk[0], tuple) and isinstance(chunk[1], str):
            return chunk[0], chunk[1], chunk[2]
    return None


def error_info(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


@dataclass(frozen=True, slots=True)
class PendingInterrupt:
    """One interrupt() a paused graph waits on, and the node (task) that called it."""

    id: str
    value: Any
    node: str
    task_id: str
    path: tuple[str, ...] = ()  # the subgraph nodes it sits in, outermost first


def pending_interrupts(snapshot: Any) -> list[PendingInterrupt] | None:
    """From `aget_state(config, subgraphs=True)`: None when the graph is not paused; else
    every interrupt pending in every task (parallel nodes, subgraphs), each at the innermost
    task that raised it. A static breakpoint (interrupt_before/after) pauses with none."""
    if not snapshot.next:
        return None
    found: dict[str, PendingInterrupt] = {}
    _collect(snapshot, (), found)
    return list(found.values())


def _collect(snapshot: Any, path: tuple[str, ...], found: dict[str, PendingInterrupt]) -> None:
    for task in snapshot.tasks:
        inner = task.state if hasattr(task.state, "tasks") else None
        if inner is not None:
            _collect(inner, (*path, task.name), found)
        for interrupt in task.interrupts:
            # The innermost task that holds an interrupt raised it; outer tasks echo it.
            found.setdefault(
                interrupt.id,
                PendingInterrupt(interrupt.id, interrupt.value, task.name, task.id, path),
            )


def state_view(snapshot: Any) -> dict[str, Any]:
    """A thread's StateSnapshot as the thread routes show it. A thread with no checkpoint yet
    has no values (LangGraph gives an empty snapshot)."""
    configurable = (snapshot.config or {}).get("configurable", {})
    checkpoint_id = configurable.get("checkpoint_id")
    return {
        "values": snapshot.values if checkpoint_id else None,
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "interrupts": [{"id": i.id, "value": i.value} for i in task.interrupts],
            }
            for task in snapshot.tasks
        ],
        "checkpoint_id": checkpoint_id,
        "created_at": snapshot.created_at,
    }


@dataclass(slots=True)
class Span:
    node: str
    started_ms: int
    step: int | None
    task_id: str = ""
    ns: list[str] = field(default_factory=list)


@dataclass
class Translator:
    """Per-run state: the root chain, the open node spans (parallel nodes overlap), the output.
    `thread_id` and `command` describe the run for its run.start; `recorded` names the LangGraph
    server stream modes to record beside the gateway's own events (LANGGRAPH_MODES), with the
    subgraphs' too when `recorded_subgraphs`."""

    thread_id: str | None = None
    command: Any = None
    recorded: frozenset[str] = frozenset()
    recorded_subgraphs: bool = False
    # False for a run's later attempt: its run.start is in the log already.
    announce: bool = True
    # The server's "messages" mode: each message so far, by id.
    _messages: dict[str, Any] = field(default_factory=dict)
    root_run_id: str | None = None
    graph_name: str | None = None
    output: Any = None
    interrupted: bool = False  # the graph reported a pause (see STREAM_MODE)
    open_nodes: dict[str, Span] = field(default_factory=dict)
    # The model calls that have streamed a token: one that has not gets its text as one token.
    _streaming: set[str] = field(default_factory=set)

    def translate(self, raw: dict[str, Any], now_ms: int) -> Emitted:
        emitted = self._translate(raw, now_ms)
        # The LangGraph server forwards every event but the root's own stream chunks.
        if "events" in self.recorded and not (
            raw.get("event") == "on_chain_stream" and str(raw.get("run_id")) == self.root_run_id
        ):
            emitted.append((f"{DIALECT_EVENT}events", {"data": raw}))
        return emitted

    def _translate(self, raw: dict[str, Any], now_ms: int) -> Emitted:
        kind = raw.get("event")
        run_id = str(raw.get("run_id"))
        if self.root_run_id is None and kind == "on_chain_start" and not raw.get("parent_ids"):
            self.root_run_id = run_id
            self.graph_name = raw.get("name")
            if not self.announce:
                return []
            # A resumed run's input is LangGraph's Command: the request's own command says it.
            input_ = None if self.command is not None else raw.get("data", {}).get("input")
            return [
                (
                    EventName.RUN_START,
                    {
                        "input": input_,
                        "graph": self.graph_name,
                        "thread_id": self.thread_id,
                        "command": self.command,
                    },
                )
            ]
        if run_id == self.root_run_id:
            return self._root(kind, raw)
        handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
        return handler(self, raw, run_id, now_ms) if handler else []

    def interrupt(self, pending: list[PendingInterrupt]) -> Emitted:
        """The graph has paused: every pending interrupt, with the open span of its node (the
        paused nodes stay open: they run again when the thread is resumed)."""
        spans = {span.task_id: span_id for span_id, span in self.open_nodes.items()}
        return [(EventName.RUN_INTERRUPT, {"interrupts": interrupt_list(pending, spans)})]

    def fail(self, exc: BaseException) -> Emitted:
        """The iterator raised: LangGraph sends no on_chain_error, so close what is open here."""
        error = error_info(exc)
        emitted: Emitted = [
            (EventName.NODE_ERROR, {"node": span.node, "span_id": span_id, "error": error})
            for span_id, span in self.open_nodes.items()
        ]
        self.open_nodes.clear()
        emitted.append((EventName.RUN_ERROR, {"error": error}))
        if self.recorded:
            # As LangGraph's server says it: {"error": <class>, "message": ...}.
            wire = {"error": error["type"], "message": error["message"]}
            emitted.append((f"{DIALECT_EVENT}error", {"data": wire}))
        return emitted

    def _root(self, kind: Any, raw: dict[str, Any]) -> Emitted:
        data = raw.get("data", {})
        if kind == "on_chain_end":
            self.output = data.get("output")
            return []
        parts = _stream_chunk(data.get("chunk")) if kind == "on_chain_stream" else None
        if parts is None:
            return []
        namespace, mode, payload = parts
        emitted: Emitted = []
        if mode == "updates" and not namespace and _holds_interrupt(payload):
            self.interrupted = True
        elif mode == "custom":
            # The chunk does not say which node wrote it, and it may arrive after that
            # node's end: no node is named rather than a wrong one.
            fields = {"node": None, "name": "custom", "data": payload}
            emitted.append((EventName.CUSTOM, _in_namespace(fields, namespace)))
        if self.recorded and (self.recorded_subgraphs or not namespace):
            emitted += self._recorded(mode, namespace, payload)
        return emitted

    def _recorded(self, mode: str, namespace: tuple[str, ...], payload: Any) -> Emitted:
        """A chunk of LangGraph's stream as LangGraph's server sends it, for each server
        mode recorded that it feeds."""
        emitted: Emitted = []
        # LangGraph's server names a subgraph's events "<event>|<ns>|<ns>".
        suffix = "".join(f"|{_wire_safe(part)}" for part in namespace)
        if mode == "messages":
            if "messages-tuple" in self.recorded:
                emitted.append((f"{DIALECT_EVENT}messages{suffix}", {"data": payload}))
            if "messages" in self.recorded:
                emitted += [
                    (f"{DIALECT_EVENT}{name}{suffix}", {"data": data})
                    for name, data in self._accumulated(payload)
                ]
        elif mode in self.recorded:
            if mode in ("checkpoints", "debug"):
                payload = _with_checkpoint_refs(mode, payload)
            emitted.append((f"{DIALECT_EVENT}{mode}{suffix}", {"data": payload}))
        return emitted

    def _accumulated(self, payload: Any) -> list[tuple[str, Any]]:
        # As LangGraph's server does: a message's metadata when it first appears, then the
        # whole message so far with each chunk, or the message once when it came whole.
        message, metadata = payload
        message_id = getattr(message, "id", None)
        out: list[tuple[str, Any]] = []
        if message_id in self._messages:
            self._messages[message_id] = self._messages[message_id] + message
        else:
            self._messages[message_id] = message
            out.append(("messages/metadata", {message_id: {"metadata": metadata}}))
        is_chunk = type(message).__name__.endswith("Chunk")
        name = "messages/partial" if is_chunk else "messages/complete"
        out.append((name, [self._messages[message_id]]))
        return out

    def _chain_start(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        metadata = raw.get("metadata", {})
        if not _is_node_chain(raw, metadata):
            return []
        node = raw["name"]
        step = metadata.get("langgraph_step")
        namespace = metadata.get("langgraph_checkpoint_ns", "")
        path = _subgraph_path(namespace)
        # The namespace ends with this node's task id, which names it in the thread's state.
        task_id = namespace.rpartition("|")[2].partition(":")[2]
        ns = _graph_namespace(namespace)
        self.open_nodes[run_id] = Span(node, now_ms, step, task_id, ns)
        triggers = list(metadata.get("langgraph_triggers") or ())
        fields = {
            "node": node,
            "step": step,
            "triggers": triggers,
            "span_id": run_id,
            "path": path,
            "task_id": task_id,
        }
        return [(EventName.NODE_START, _in_namespace(fields, ns))]

    def _chain_end(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        span = self.open_nodes.pop(run_id, None)
        if span is None:
            return []
        fields = {
            "node": span.node,
            "step": span.step,
            "span_id": run_id,
            "duration_ms": now_ms - span.started_ms,
            "update": raw.get("data", {}).get("output"),
        }
        return [(EventName.NODE_END, _in_namespace(fields, span.ns))]

    def _chat_model_stream(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        if NOSTREAM_TAGS.intersection(raw.get("tags") or ()):
            return []
        chunk = raw.get("data", {}).get("chunk")
        text = _text_of(chunk)
        reasoning = _reasoning_of(chunk)
        if not text and not reasoning:
            return []
        fields = {
            "node": _node_of(raw),
            "span_id": run_id,
            "message_id": getattr(chunk, "id", None),
            "text": text,
        }
        if reasoning:
            fields["reasoning"] = reasoning
        self._streaming.add(run_id)
        return [(EventName.TOKEN, _in_namespace(fields, _raw_namespace(raw)))]

    def _chat_model_end(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        if NOSTREAM_TAGS.intersection(raw.get("tags") or ()):
            return []
        message = raw.get("data", {}).get("output")
        fields = {
            "node": _node_of(raw),
            "span_id": run_id,
            "message_id": getattr(message, "id", None),
            "usage": getattr(message, "usage_metadata", None),
        }
        tool_calls = getattr(message, "tool_calls", None)
        if tool_calls:
            fields["tool_calls"] = [
                {"id": call.get("id"), "name": call.get("name"), "args": call.get("args")}
                for call in tool_calls
            ]
        ns = _raw_namespace(raw)
        end = (EventName.LLM_END, _in_namespace(fields, ns))
        if run_id in self._streaming:
            self._streaming.discard(run_id)
            return [end]
        # A model that does not stream (no `_astream`) says its text only here: one token with
        # all of it, so every reader shows the answer.
        text = _text_of(message)
        if not text:
            return [end]
        token = {"node": fields["node"], "span_id": run_id, "message_id": fields["message_id"]}
        return [(EventName.TOKEN, _in_namespace({**token, "text": text}, ns)), end]

    def _tool_start(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        fields = {
            "node": _node_of(raw),
            "span_id": run_id,
            "tool": raw.get("name"),
            "input": raw.get("data", {}).get("input"),
        }
        return [(EventName.TOOL_START, _in_namespace(fields, _raw_namespace(raw)))]

    def _tool_end(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        fields = {"node": _node_of(raw), "span_id": run_id, "tool": raw.get("name")}
        data = raw.get("data", {})
        if raw.get("event") == "on_tool_error":
            error = data.get("error")
            fields["error"] = (
                error_info(error)
                if isinstance(error, BaseException)
                else {"type": "ToolError", "message": str(error)}
            )
            # A ToolNode that handles tool errors answers the call with the error: say which.
            if data.get("tool_call_id"):
                fields["tool_call_id"] = data["tool_call_id"]
        else:
            output = data.get("output")
            fields["output"] = _tool_output(output)
            tool_call_id = getattr(output, "tool_call_id", None)
            if tool_call_id:
                fields["tool_call_id"] = tool_call_id
        return [(EventName.TOOL_END, _in_namespace(fields, _raw_namespace(raw)))]

    def _custom_event(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        fields = {"node": _node_of(raw), "name": raw.get("name"), "data": raw.get("data")}
        return [(EventName.CUSTOM, _in_namespace(fields, _raw_namespace(raw)))]


_HANDLERS = {
    "on_chain_start": Translator._chain_start,
    "on_chain_end": Translator._chain_end,
    "on_chat_model_stream": Translator._chat_model_stream,
    "on_chat_model_end": Translator._chat_model_end,
    "on_tool_start": Translator._tool_start,
    "on_tool_end": Translator._tool_end,
    "on_tool_error": Translator._tool_end,
    "on_custom_event": Translator._custom_event,
}


def _is_node_chain(raw: dict[str, Any], metadata: dict[str, Any]) -> bool:
    # A node's own chain carries its name as langgraph_node and a graph:step:N tag; runnables
    # nested inside it (conditional-edge functions included) share the metadata, not the tag.
    if raw.get("name") != metadata.get("langgraph_node"):
        return False
    return any(tag.startswith("graph:step:") for tag in raw.get("tags") or ())


def _holds_interrupt(update: Any) -> bool:
    return isinstance(update, dict) and INTERRUPT_KEY in update


def _is_interrupt_chunk(chunk: Any) -> bool:
    parts = _stream_chunk(chunk)
    return parts is not None and parts[1] == "updates" and _holds_interrupt(parts[2])


def _checkpoint_ref(config: Any) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable", {})
    keys = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")
    return {key: configurable.get(key) for key in keys if key in configurable}


def _with_checkpoint_refs(mode: str, payload: Any) -> Any:
    """LangGraph's server adds `checkpoint` and `parent_checkpoint` to a checkpoint's
    payload (in the debug mode's checkpoint events, and the checkpoints mode's)."""
    if mode == "debug":
        if not isinstance(payload, dict) or payload.get("type") != "checkpoint":
            return payload
        return {**payload, "payload": _with_checkpoint_refs("checkpoints", payload["payload"])}
    if not isinstance(payload, dict):
        return payload
    return {
        **payload,
        "checkpoint": _checkpoint_ref(payload.get("config")),
        "parent_checkpoint": _checkpoint_ref(payload.get("parent_config")),
    }


def _graph_namespace(checkpoint_ns: str) -> list[str]:
    # A node's checkpoint namespace ends with its own task ("draft:<id>"); what comes before
    # is the namespace of the (sub)graph it runs in, as LangGraph's streams name it.
    return checkpoint_ns.split("|")[:-1] if checkpoint_ns else []


def _raw_namespace(raw: dict[str, Any]) -> list[str]:
    return _graph_namespace(raw.get("metadata", {}).get("langgraph_checkpoint_ns", ""))


def _in_namespace(fields: dict[str, Any], ns: Any) -> dict[str, Any]:
    # Only an event inside a subgraph says where: the root graph's events stay as they were.
    if ns:
        fields["ns"] = list(ns)
    return fields


def _wire_safe(text: str) -> str:
    # A namespace holds node names, which a graph may fill with anything; the SSE event line
    # must stay one line.
    return text.replace("\r", "%0D").replace("\n", "%0A").replace("\x00", "%00")


def interrupt_list(
    pending: list[PendingInterrupt], spans: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Pending interrupts as run.interrupt and a thread show them."""
    spans = spans or {}
    return [
        {
            "id": p.id,
            "value": p.value,
            "node": p.node,
            "span_id": spans.get(p.task_id),
            "path": list(p.path),
        }
        for p in pending
    ]


def _subgraph_path(checkpoint_ns: str) -> list[str]:
    # "outer:<task id>|inner:<task id>" for a node of a subgraph run by node "outer"; a
    # subgraph called twice by one node adds a bare call counter ("outer:<id>|1|inner:<id>").
    parts = [part for part in checkpoint_ns.split("|") if part and not part.isdigit()]
    return [part.split(":", 1)[0] for part in parts[:-1]]


def _node_of(raw: dict[str, Any]) -> str | None:
    return raw.get("metadata", {}).get("langgraph_node")


def _text_of(chunk: Any) -> str:
    text = getattr(chunk, "text", None)
    if callable(text) and not isinstance(text, str):  # langchain-core < 1.0: a method
        text = text()
    if isinstance(text, str):
        return str(text)
    content = getattr(chunk, "content", None)
    return content if isinstance(content, str) else ""


def _reasoning_of(chunk: Any) -> str:
    """The reasoning a chunk streams, as LangChain's standard content blocks name it (whatever
    the provider's own format: Anthropic's thinking, `reasoning_content`, OpenAI's summaries)."""
    content = getattr(chunk, "content", None)
    extra = getattr(chunk, "additional_kwargs", None) or {}
    # Plain text content with no provider reasoning beside it has none: skip the conversion,
    # which is the hot path's most common case.
    if (
        not isinstance(content, list)
        and "reasoning_content" not in extra
        and "reasoning" not in extra
    ):
        return ""
    try:
        blocks = chunk.content_blocks
    except Exception:  # a provider's block LangChain cannot read: no reasoning, not a failure
        return ""
    return "".join(
        str(block.get("reasoning") or "")
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "reasoning"
    )


def _tool_output(output: Any) -> Any:
    # A tool called by a ToolNode returns a ToolMessage; its content is what users care about.
    content = getattr(output, "content", None)
    return content if content is not None and getattr(output, "type", None) == "tool" else output


class RawPassthrough:
    """`?mode=raw`: every raw event as it came, named by LangChain's event name."""

    output: Any = None
    interrupted = False

    def translate(self, raw: dict[str, Any], now_ms: int) -> Emitted:
        if not raw.get("parent_ids"):
            data = raw.get("data", {})
            if raw.get("event") == "on_chain_end":
                self.output = data.get("output")
            elif raw.get("event") == "on_chain_stream":
                parts = _stream_chunk(data.get("chunk"))
                if _is_interrupt_chunk(data.get("chunk")):
                    self.interrupted = True
                elif parts is not None and parts[1] == "updates":
                    return []  # asked for only to see interrupts (STREAM_MODE)
        return [(str(raw.get("event")), {"event": raw})]

    def interrupt(self, pending: list[PendingInterrupt]) -> Emitted:
        return [(EventName.RUN_INTERRUPT, {"interrupts": interrupt_list(pending)})]

    def fail(self, exc: BaseException) -> Emitted:
        return [(EventName.RUN_ERROR, {"error": error_info(exc)})]
