"""The project's second graph: a count that goes up by one each run on its thread."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    count: Annotated[int, operator.add]


def step(state: State) -> State:
    return {"count": 1}


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_edge("step", END)
graph = builder.compile()
