"""A LangGraph project's graph, imported from its file: it greets with what the project's
env file says."""

from __future__ import annotations

import os
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    name: str
    greeting: str


def greet(state: State) -> State:
    greeting = os.environ.get("PROJECT_GREETING", "(no env)")
    punctuation = os.environ.get("PROJECT_PUNCTUATION", "")
    return {"greeting": f"{greeting}, {state.get('name', 'you')}{punctuation}"}


builder = StateGraph(State)
builder.add_node("greet", greet)
builder.add_edge(START, "greet")
builder.add_edge("greet", END)
graph = builder.compile()
