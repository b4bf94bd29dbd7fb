"""Graphs shaped as LangGraph projects write them, which LangGraph's server runs and the
gateway must run the same way: a context schema with defaults read unguarded, and factories
that take the run's config, the server runtime, or both (sync, async, context managers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.runtime import Runtime
from langgraph_sdk.runtime import ServerRuntime


class State(TypedDict, total=False):
    topic: str
    result: Any


@dataclass
class Context:
    # As in LangGraph's react-agent template: every field has a default.
    model: str = "default-model"
    temperature: float = 0.5


async def answer(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    return {"result": f"{runtime.context.model}@{runtime.context.temperature}"}


def _contextual() -> StateGraph:
    builder = StateGraph(State, context_schema=Context)
    builder.add_node("answer", answer)
    builder.set_entry_point("answer")
    return builder


contextual = _contextual().compile(name="contextual")


def _saying(name: str, words: str) -> Any:
    async def say(state: State) -> dict[str, Any]:
        return {"result": words}

    builder = StateGraph(State)
    builder.add_node("say", say)
    builder.set_entry_point("say")
    return builder.compile(name=name)


def with_config(config: RunnableConfig) -> Any:
    """Builds a graph per run from the run's config, as LangGraph's server calls it."""
    return _saying("with_config", f"flavour={config['configurable'].get('flavour', 'plain')}")


async def with_runtime(runtime: ServerRuntime) -> Any:
    execution = runtime.execution_runtime
    model = execution.context.get("model") if execution and execution.context else None
    return _saying("with_runtime", f"{runtime.access_context} model={model}")


@contextlib.asynccontextmanager
async def with_both(runtime: ServerRuntime, config: RunnableConfig) -> AsyncIterator[Any]:
    # A resource held open for the run (a client, a connection), closed when it ends.
    opened.append("open")
    try:
        flavour = config["configurable"].get("flavour", "plain")
        yield _saying("with_both", f"{runtime.access_context} flavour={flavour}")
    finally:
        opened.append("closed")


opened: list[str] = []


def too_many(config: RunnableConfig, runtime: ServerRuntime, extra: int) -> Any:
    return _saying("too_many", "never")


def not_a_graph_factory() -> Any:
    return 42
