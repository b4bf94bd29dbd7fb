"""Loading the graphs to serve: one, from a `package.module:attr` reference, or every graph a
LangGraph project's `langgraph.json` names."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from app.graphs.factory import FactoryError, GraphFactory
from app.graphs.project import Project, ProjectError, enter, is_project, read_project


class GraphLoadError(Exception):
    """The graph reference cannot be turned into a runnable graph; the message is one line."""


def load_graph(reference: str, base: Path | None = None) -> Pregel | GraphFactory:
    """A compiled graph, a StateGraph builder (compiled here), or a factory the gateway calls
    for each run, as LangGraph's server does. The module is `package.module`, or a file
    (`path/to/file.py`, relative to `base`), as in langgraph.json."""
    module_name, sep, attr_path = reference.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise GraphLoadError(f"graph {reference!r}: expected 'package.module:attr'")
    try:
        target: Any = _module(module_name, base)
    except GraphLoadError:
        raise
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


def _module(name: str, base: Path | None) -> Any:
    if not name.endswith(".py"):
        return importlib.import_module(name)
    path = (base or Path.cwd()) / name
    if not path.is_file():
        raise GraphLoadError(f"graph file {str(path)!r} does not exist")
    # One module per file, under a name of its own (two projects may both have agent.py).
    unique = f"_graph_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[unique]
        raise
    return module


@dataclasses.dataclass(frozen=True)
class ServedGraph:
    """A graph the gateway serves: what it describes and reads threads with, and the factory
    that builds each run's own, if the reference names one."""

    graph: Pregel
    factory: GraphFactory | None = None


@dataclasses.dataclass(frozen=True)
class Served:
    """The graphs served, by id, the first the default; and the project they came from."""

    graphs: dict[str, ServedGraph]
    project: Project | None = None

    @property
    def default(self) -> str:
        return next(iter(self.graphs))

    def ui(self, configured: dict[str, str]) -> dict[str, str]:
        """The UI components of the graphs: the project's `ui`, under GATEWAY_UI's."""
        return {**(self.project.ui if self.project else {}), **configured}

    def sharing(self, store: Any, saver: Any) -> Served:
        """Every graph with the gateway's graph store and checkpointer, unless compiled with
        its own (one saver for every graph, as LangGraph's server has: a thread is one
        graph's)."""
        graphs = {}
        for graph_id, served in self.graphs.items():
            update = {}
            if store is not None and served.graph.store is None:
                update["store"] = store
            if saver is not None and not isinstance(served.graph.checkpointer, BaseCheckpointSaver):
                update["checkpointer"] = saver
            graph = served.graph.copy(update=update) if update else served.graph
            graphs[graph_id] = ServedGraph(graph, served.factory)
        return Served(graphs, self.project)


async def open_graphs(reference: str) -> Served:
    """The graph a reference names (its id is its name), or a langgraph.json's graphs (their
    ids are the file's), its `env` set and its folders importable first."""
    if not is_project(reference):
        graph, factory = await open_graph(reference)
        return Served({graph.get_name(): ServedGraph(graph, factory)})
    try:
        project = read_project(reference)
    except ProjectError as exc:
        raise GraphLoadError(str(exc)) from exc
    enter(project)
    graphs = {}
    for graph_id, target in project.graphs.items():
        graph, factory = await open_graph(target, project.root)
        graphs[graph_id] = ServedGraph(graph, factory)
    return Served(graphs, project)


async def open_graph(
    reference: str, base: Path | None = None
) -> tuple[Pregel, GraphFactory | None]:
    """The graph the gateway describes and reads threads with, and the factory that builds
    each run's graph, if the reference names one. A factory is called once here (for reading,
    with an empty config), so that one that cannot build a graph stops the start-up."""
    loaded = load_graph(reference, base)
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
