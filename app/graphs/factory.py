"""Graph factories, called the way LangGraph's server calls them: with the run's config, the
server runtime, both, or nothing, depending on the factory's parameters."""

from __future__ import annotations

import contextlib
import copy
import inspect
import typing
from collections.abc import AsyncIterator, Callable
from typing import Any, get_args, get_origin

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

# langgraph-sdk has no public constructor for the runtime it types factories with: these two
# private classes are what LangGraph's server builds (see the upper bound in pyproject.toml).
from langgraph_sdk.runtime import ServerRuntime, _ExecutionRuntime, _ReadRuntime

Arguments = Callable[[dict[str, Any], Any], dict[str, Any]]

# Factories may annotate with names imported only under TYPE_CHECKING.
_ANNOTATION_NAMES = {"ServerRuntime": ServerRuntime, "RunnableConfig": dict, "Config": dict}


class FactoryError(Exception):
    """The factory cannot be called as LangGraph's server would; the message is one line."""


class GraphFactory:
    """A callable that returns a graph (a compiled one or a StateGraph), directly, as an
    awaitable, or as a (sync or async) context manager that holds its resources open."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self.make = make
        self._arguments = _classify(make)

    def built(
        self,
        config: dict[str, Any],
        *,
        for_run: bool,
        store: Any = None,
        context: Any = None,
    ) -> contextlib.AbstractAsyncContextManager[Pregel]:
        """The graph for one run (`for_run`), or for reading its structure and threads."""
        runtime = (
            _ExecutionRuntime(
                access_context="threads.create_run",
                store=store,
                # copy.copy keeps a dataclass or pydantic context what it is, unlike dict().
                context=copy.copy(context) if context is not None else None,
            )
            if for_run
            else _ReadRuntime(access_context="assistants.read", store=store)
        )
        return self._enter(self._arguments({**config}, runtime))

    @contextlib.asynccontextmanager
    async def _enter(self, arguments: dict[str, Any]) -> AsyncIterator[Pregel]:
        value = self.make(**arguments)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, contextlib.AbstractAsyncContextManager):
            async with value as graph:
                yield _compiled(graph)
        elif isinstance(value, contextlib.AbstractContextManager):
            with value as graph:
                yield _compiled(graph)
        else:
            yield _compiled(value)


def _compiled(value: Any) -> Pregel:
    if isinstance(value, StateGraph):
        return value.compile()
    if isinstance(value, Pregel):
        return value
    raise FactoryError(
        f"the factory returned a {type(value).__name__}, not a compiled graph or a StateGraph"
    )


def _classify(make: Callable[..., Any]) -> Arguments:
    """What to pass, by keyword: nothing, `config`, `runtime` (known by its ServerRuntime
    annotation), or both in either order; any other shape is refused before the gateway
    starts."""
    try:
        signature = inspect.signature(make)
    except (TypeError, ValueError) as exc:
        raise FactoryError(f"cannot read the factory's signature: {exc}") from exc
    names = [p.name for p in signature.parameters.values() if p.kind not in _VARIADIC]
    try:
        hints = typing.get_type_hints(make, localns=_ANNOTATION_NAMES)
    except Exception:  # an annotation that does not resolve is simply not a runtime's
        hints = {}
    runtimes = [
        p.name
        for p in signature.parameters.values()
        if p.name in names and _is_runtime(hints.get(p.name, p.annotation))
    ]
    if not names:
        return lambda config, runtime: {}
    if len(names) == 1:
        (name,) = names
        if runtimes:
            return lambda config, runtime: {name: runtime}
        return lambda config, runtime: {name: config}
    if len(names) == 2 and len(runtimes) == 1:
        (runtime_name,) = runtimes
        (config_name,) = (n for n in names if n != runtime_name)
        return lambda config, runtime: {config_name: config, runtime_name: runtime}
    raise FactoryError(
        "a factory takes no argument, `config`, `runtime: ServerRuntime`, or `config` and "
        f"`runtime: ServerRuntime`; this one takes {', '.join(names)}"
    )


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _is_runtime(annotation: Any) -> bool:
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, (_ExecutionRuntime, _ReadRuntime))
    if isinstance(annotation, str):
        return annotation.split("[")[0].rsplit(".")[-1] == "ServerRuntime"
    origin = get_origin(annotation)
    if origin is ServerRuntime:
        return True
    args = get_args(annotation)
    return origin is not None and bool(args) and _is_runtime(args[0])
