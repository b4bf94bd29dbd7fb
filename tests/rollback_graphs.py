"""A count that goes up by one, then (when asked) waits a long while: a run caught waiting has
written a checkpoint a rollback must undo. Served by the rollback tests
(`rollback_graphs:counter`)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    count: Annotated[int, operator.add]
    slow: bool


def step(state: State) -> State:
    return {"count": 1}


async def linger(state: State) -> State:
    if state.get("slow"):
        await asyncio.sleep(60)
    return {}


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_node("linger", linger)
builder.add_edge(START, "step")
builder.add_edge("step", "linger")
builder.add_edge("linger", END)
counter = builder.compile(name="counter")
