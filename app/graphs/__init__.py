"""Loading the graph to serve from a `package.module:attr` reference."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel


class GraphLoadError(Exception):
    """The graph reference cannot be turned into a runnable graph; the message is one line."""


def load_graph(reference: str) -> Pregel:
    """A compiled graph, a StateGraph builder (compiled here) or a zero-argument factory
    returning either."""
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
    graph = _as_graph(target)
    if graph is None and callable(target) and _takes_no_arguments(target):
        try:
            graph = _as_graph(target())
        except Exception as exc:
            raise GraphLoadError(
                f"graph {reference!r}: the factory raised {type(exc).__name__}: {exc}"
            ) from exc
    if graph is None:
        raise GraphLoadError(
            f"graph {reference!r} is a {type(target).__name__}, not a compiled graph, "
            "a StateGraph or a zero-argument factory returning one"
        )
    return graph


def _as_graph(candidate: Any) -> Pregel | None:
    if isinstance(candidate, Pregel):
        return candidate
    if isinstance(candidate, StateGraph):
        return candidate.compile()
    return None


def _takes_no_arguments(func: Any) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


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
