"""LangGraph `astream_events(version="v2")` → gateway events. Pure: no I/O, no clock of its own.

Everything this project knows about the shape of LangGraph's raw events lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.events import EventName

Emitted = list[tuple[str, dict[str, Any]]]

# LangGraph tags a chat model call that must not stream with one of these.
NOSTREAM_TAGS = frozenset({"nostream", "langsmith:nostream"})
# get_stream_writer() output reaches astream_events only when "custom" is among the stream
# modes; it then arrives as the root chain's on_chain_stream chunk ("custom", data).
STREAM_MODE = ["custom"]


def error_info(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


@dataclass(slots=True)
class Span:
    node: str
    started_ms: int
    step: int | None


@dataclass
class Translator:
    """Per-run state: the root chain, the open node spans (parallel nodes overlap), the output."""

    root_run_id: str | None = None
    graph_name: str | None = None
    output: Any = None
    open_nodes: dict[str, Span] = field(default_factory=dict)

    def translate(self, raw: dict[str, Any], now_ms: int) -> Emitted:
        kind = raw.get("event")
        run_id = str(raw.get("run_id"))
        if self.root_run_id is None and kind == "on_chain_start" and not raw.get("parent_ids"):
            self.root_run_id = run_id
            self.graph_name = raw.get("name")
            input_ = raw.get("data", {}).get("input")
            return [(EventName.RUN_START, {"input": input_, "graph": self.graph_name})]
        if run_id == self.root_run_id:
            return self._root(kind, raw)
        handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
        return handler(self, raw, run_id, now_ms) if handler else []

    def fail(self, exc: BaseException) -> Emitted:
        """The iterator raised: LangGraph sends no on_chain_error, so close what is open here."""
        error = error_info(exc)
        emitted: Emitted = [
            (EventName.NODE_ERROR, {"node": span.node, "span_id": span_id, "error": error})
            for span_id, span in self.open_nodes.items()
        ]
        self.open_nodes.clear()
        emitted.append((EventName.RUN_ERROR, {"error": error}))
        return emitted

    def _root(self, kind: Any, raw: dict[str, Any]) -> Emitted:
        data = raw.get("data", {})
        if kind == "on_chain_end":
            self.output = data.get("output")
        elif kind == "on_chain_stream":
            chunk = data.get("chunk")
            if isinstance(chunk, tuple) and len(chunk) == 2 and chunk[0] == "custom":
                # The chunk does not say which node wrote it, and it may arrive after that
                # node's end: no node is named rather than a wrong one.
                return [(EventName.CUSTOM, {"node": None, "name": "custom", "data": chunk[1]})]
        return []

    def _chain_start(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        metadata = raw.get("metadata", {})
        if not _is_node_chain(raw, metadata):
            return []
        node = raw["name"]
        step = metadata.get("langgraph_step")
        path = _subgraph_path(metadata.get("langgraph_checkpoint_ns", ""))
        self.open_nodes[run_id] = Span(node, now_ms, step)
        triggers = list(metadata.get("langgraph_triggers") or ())
        return [
            (
                EventName.NODE_START,
                {"node": node, "step": step, "triggers": triggers, "span_id": run_id, "path": path},
            )
        ]

    def _chain_end(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        span = self.open_nodes.pop(run_id, None)
        if span is None:
            return []
        return [
            (
                EventName.NODE_END,
                {
                    "node": span.node,
                    "step": span.step,
                    "span_id": run_id,
                    "duration_ms": now_ms - span.started_ms,
                    "update": raw.get("data", {}).get("output"),
                },
            )
        ]

    def _chat_model_stream(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        if NOSTREAM_TAGS.intersection(raw.get("tags") or ()):
            return []
        chunk = raw.get("data", {}).get("chunk")
        text = _text_of(chunk)
        if not text:
            return []
        return [
            (
                EventName.TOKEN,
                {
                    "node": _node_of(raw),
                    "span_id": run_id,
                    "message_id": getattr(chunk, "id", None),
                    "text": text,
                },
            )
        ]

    def _chat_model_end(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        if NOSTREAM_TAGS.intersection(raw.get("tags") or ()):
            return []
        message = raw.get("data", {}).get("output")
        return [
            (
                EventName.LLM_END,
                {
                    "node": _node_of(raw),
                    "span_id": run_id,
                    "message_id": getattr(message, "id", None),
                    "usage": getattr(message, "usage_metadata", None),
                },
            )
        ]

    def _tool_start(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        return [
            (
                EventName.TOOL_START,
                {
                    "node": _node_of(raw),
                    "span_id": run_id,
                    "tool": raw.get("name"),
                    "input": raw.get("data", {}).get("input"),
                },
            )
        ]

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
        else:
            fields["output"] = _tool_output(data.get("output"))
        return [(EventName.TOOL_END, fields)]

    def _custom_event(self, raw: dict[str, Any], run_id: str, now_ms: int) -> Emitted:
        return [
            (
                EventName.CUSTOM,
                {"node": _node_of(raw), "name": raw.get("name"), "data": raw.get("data")},
            )
        ]


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


def _tool_output(output: Any) -> Any:
    # A tool called by a ToolNode returns a ToolMessage; its content is what users care about.
    content = getattr(output, "content", None)
    return content if content is not None and getattr(output, "type", None) == "tool" else output


class RawPassthrough:
    """`?mode=raw`: every raw event as it came, named by LangChain's event name."""

    output: Any = None

    def translate(self, raw: dict[str, Any], now_ms: int) -> Emitted:
        if raw.get("event") == "on_chain_end" and not raw.get("parent_ids"):
            self.output = raw.get("data", {}).get("output")
        return [(str(raw.get("event")), {"event": raw})]

    def fail(self, exc: BaseException) -> Emitted:
        return [(EventName.RUN_ERROR, {"error": error_info(exc)})]
