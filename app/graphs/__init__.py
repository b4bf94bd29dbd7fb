"""Loading the graph to serve from a `package.module:attr` reference."""

from __future__ import annotations

import importlib
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from app.graphs.factory import FactoryError, GraphFactory


class GraphLoadError(Exception):
    """The graph reference cannot be turned into a runnable graph; the message is one line."""


def load_graph(reference: str) -> Pregel | GraphFactory:
    """A compiled graph, a StateGraph builder (compiled here), or a factory the gateway calls
    for each run, as LangGraph's server does."""
    module_name, sep, attr_path = reference.partition(":")
    if not sep or not module_name or not attr_path:
        raise GraphLoadError(f"graph {reference!r}: expected 'package.module:attr'")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise GraphLoadError(
            f"graph {reference!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError as exc:
            raise GraphLoadError(
                f"graph {reference!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from exc
    if isinstance(target, Pregel):
        return target
    if isinstance(target, StateGraph):
        return target.compile()
    if not callable(target):
        raise GraphLoadError(
            f"graph {reference!r} is a {type(target).__name__}, not a compiled graph, "
            "a StateGraph or a factory returning one"
        )
    try:
        return GraphFactory(target)
    except FactoryError as exc:
        raise GraphLoadError(f"graph {reference!r}: {exc}") from exc


async def open_graph(reference: str) -> tuple[Pregel, GraphFactory | None]:
    """The graph the gateway describes and reads threads with, and the factory that builds
    each run's graph, if the reference names one. A factory is called once here (for reading,
    with an empty config), so that one that cannot build a graph stops the start-up."""
    loaded = load_graph(reference)
    if isinstance(loaded, Pregel):
        return loaded, None
    try:
        async with loaded.built({"configurable": {}}, for_run=False) as graph:
            return graph, loaded
    except FactoryError as exc:
        raise GraphLoadError(f"graph {reference!r}: {exc}") from exc
    except Exception as exc:
        raise GraphLoadError(
            f"graph {reference!r}: the factory raised {type(exc).__name__}: {exc}"
        ) from exc


def describe_graph(graph: Pregel) -> dict[str, Any]:
    """Nodes, edges and a Mermaid chart, as GET /graph returns them."""
    drawable = graph.get_graph()
    return {
        "name": graph.get_name(),
        "nodes": [{"id": node.id, "name": node.name} for node in drawable.nodes.values()],
        "edges": [
            {"source": e.source, "target": e.target, "conditional": e.conditional}
            for e in drawable.edges
        ],
        "mermaid": drawable.draw_mermaid(),
    }
