"""A graph that says what it was given: its runtime context and the configurable `mode`.
Served by the assistant tests (`assistant_graphs:echo`), to show an assistant's config and
context reaching its runs, under the run's own."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime


class Context(TypedDict, total=False):
    greeting: str
    style: str


class State(TypedDict, total=False):
    seen: dict[str, Any]


async def say(state: State, config: RunnableConfig, runtime: Runtime[Context]) -> dict[str, Any]:
    configurable = config.get("configurable") or {}
    return {"seen": {"context": dict(runtime.context or {}), "mode": configurable.get("mode")}}


def _build() -> StateGraph:
    builder = StateGraph(State, context_schema=Context)
    builder.add_node("say", say)
    builder.add_edge(START, "say")
    builder.add_edge("say", END)
    return builder


echo = _build().compile(name="echo")
