"""A graph with long-term memory: `remember` keeps the run's `note` in LangGraph's store (the
one the gateway hands it, through a node that takes `store`) and answers how many notes the
store holds under `("notes", <who>)`. Served by the store tests (`store_graphs:memory`).

Input: `{"who": str, "note": str}`.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore


class State(TypedDict, total=False):
    who: str
    note: str
    notes: list[str]


async def remember(state: State, *, store: BaseStore) -> dict[str, Any]:
    namespace = ("notes", state.get("who") or "anyone")
    if state.get("note"):
        await store.aput(namespace, uuid.uuid4().hex, {"text": state["note"]})
    found = await store.asearch(namespace, limit=100)
    return {"notes": sorted(str(item.value.get("text")) for item in found)}


def _build() -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder


memory = _build().compile(name="memory")
