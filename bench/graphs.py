"""The graph every contender serves: `prepare` (optionally pausing) → `write` (streams tokens).

Input: tokens (how many), token_delay (seconds between tokens), pause (seconds in prepare),
model ("fake": LangChain's standard GenericFakeChatModel streams the tokens instead of the
gateway's demo model).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph

# AG-UI's LangGraph adapter has pydantic read the state: before Python 3.12 that takes only
# typing_extensions' TypedDict.
from typing_extensions import TypedDict

from app.graphs.demo import DemoChatModel


class BenchState(TypedDict, total=False):
    tokens: int
    token_delay: float
    pause: float
    model: str
    answer: str


async def prepare(state: BenchState) -> dict[str, Any]:
    if state.get("pause"):
        await asyncio.sleep(float(state["pause"]))
    return {}


async def write(state: BenchState) -> dict[str, Any]:
    tokens = int(state.get("tokens", 10))
    model: Any
    if state.get("model") == "fake":
        # It streams words and the spaces between them as chunks: tokens // 2 + 1 words.
        content = " ".join(["word"] * (tokens // 2 + 1))
        model = GenericFakeChatModel(messages=iter([AIMessage(content=content)]))
    else:
        model = DemoChatModel(tokens=tokens, token_delay=float(state.get("token_delay", 0)))
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
