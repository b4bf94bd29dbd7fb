"""The five JSON schemas an assistant is described by (`GET /assistants/{id}/schemas`), derived
from the graph as LangGraph's server derives them, so forms drawn from them match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.utils.pydantic import create_model
from langgraph.pregel import Pregel
from pydantic import TypeAdapter

# Keys LangGraph's server puts into `configurable` itself: no form should ask for them.
SERVER_CONFIGURABLE = (
    "__pregel_checkpointer",
    "__pregel_store",
    "checkpoint_id",
    "checkpoint_ns",
    "thread_id",
)


def assistant_schemas(graph: Pregel) -> dict[str, Any]:
    """A schema that cannot be derived is null, as LangGraph's server answers it; the others
    still are (pydantic refuses a `typing.TypedDict` input or output on Python < 3.12)."""
    return {
        "input_schema": _or_none(graph.get_input_jsonschema),
        "output_schema": _or_none(graph.get_output_jsonschema),
        "state_schema": _or_none(lambda: state_schema(graph)),
        "config_schema": _or_none(lambda: config_schema(graph)),
        "context_schema": _or_none(graph.get_context_jsonschema),
    }


def state_schema(graph: Pregel) -> dict[str, Any]:
    """One field per streamed channel, of the type a node may write to it (not the state class,
    which pydantic may refuse); a channel whose type it cannot describe is `Any`."""
    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        update_type = graph.channels[name].UpdateType
        fields[name] = (update_type if _describable(name, update_type) else Any, None)
    return create_model(graph.get_name("State"), **fields).model_json_schema()


def config_schema(graph: Pregel) -> dict[str, Any]:
    """What `config.configurable` may hold: the context schema (LangGraph's server still
    describes it there for older clients), without the keys the server fills; `{}` if none."""
    if graph.context_schema is None:
        return {}
    schema = TypeAdapter(graph.context_schema).json_schema()
    for key in SERVER_CONFIGURABLE:
        schema.get("properties", {}).pop(key, None)
    return schema


def _describable(name: str, annotation: Any) -> bool:
    try:
        create_model(name, __root__=(annotation, None)).model_json_schema()
    except Exception:
        return False
    return True


def _or_none(derive: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        return derive()
    except Exception:
        return None
