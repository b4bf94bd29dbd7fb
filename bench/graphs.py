"""The graph every contender serves: `prepare` (optionally pausing) → `write` (streams tokens).

Input: tokens (how many), token_delay (seconds between tokens), pause (seconds in prepare).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph

from app.graphs.demo import DemoChatModel


class BenchState(TypedDict, total=False):
    tokens: int
    token_delay: float
    pause: float
    answer: str


async def prepare(state: BenchState) -> dict[str, Any]:
    if state.get("pause"):
        await asyncio.sleep(float(state["pause"]))
    return {}


async def write(state: BenchState) -> dict[str, Any]:
    model = DemoChatModel(
        tokens=int(state.get("tokens", 10)), token_delay=float(state.get("token_delay", 0))
    )
    reply = await model.ainvoke([HumanMessage(content="bench")])
    return {"answer": str(reply.content)}


def build() -> StateGraph:
    builder = StateGraph(BenchState)
    builder.add_node("prepare", prepare)
    builder.add_node("write", write)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "write")
    builder.add_edge("write", END)
    return builder


graph = build().compile(name="bench")
