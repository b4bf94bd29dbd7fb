"""A graph that fills every channel of LangGraph's thread streaming protocol: a model driven with
`.astream()` in one node and `.ainvoke()` in a subgraph, writer events, a `ToolNode` call, and an
optional interrupt. Served by the gateway and by `langgraph dev` alike (`tests/v2_graphs.py:agent`).

Input: `{"messages": [{"type": "human", "content": "..."}], "approve": bool, "tokens": int,
"token_delay": float}`; `approve` makes the `approve` node ask (interrupt) before the answer.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import interrupt

from app.graphs.demo import DemoChatModel


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    approve: bool
    tokens: int
    token_delay: float
    draft: str
    decision: Any


def _model(state: AgentState) -> DemoChatModel:
    return DemoChatModel(
        tokens=int(state.get("tokens") or 12), token_delay=float(state.get("token_delay") or 0.01)
    )


def _question(state: AgentState) -> str:
    humans = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage)]
    return str(humans[-1].content) if humans else "nothing"


@tool
def search(query: str) -> str:
    """Search the (offline) shelf."""
    return f"found: {query}"


async def think(state: AgentState) -> dict[str, Any]:
    write = get_stream_writer()
    write({"phase": "thinking"})
    chunks: list[AIMessageChunk] = []
    async for chunk in _model(state).astream([HumanMessage(content=_question(state))]):
        chunks.append(chunk)
    text = "".join(str(c.content) for c in chunks)
    call = {"name": "search", "args": {"query": _question(state)}, "id": "call-search-1"}
    write({"phase": "calling search"})
    return {"messages": [AIMessage(content=text, tool_calls=[call], id=chunks[0].id)]}


async def draft(state: AgentState) -> dict[str, Any]:
    reply = await _model(state).ainvoke([HumanMessage(content=f"draft {_question(state)}")])
    return {"draft": str(reply.content)}


def _reviewer() -> Any:
    builder = StateGraph(AgentState)
    builder.add_node("draft", draft)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", END)
    return builder.compile(name="reviewer")


async def approve(state: AgentState) -> dict[str, Any]:
    if not state.get("approve"):
        return {"decision": None}
    return {"decision": interrupt({"question": "Send the answer?", "draft": state.get("draft")})}


async def answer(state: AgentState) -> dict[str, Any]:
    reply = await _model(state).ainvoke([HumanMessage(content=f"answer {_question(state)}")])
    return {"messages": [reply]}


def build() -> StateGraph:
    builder = StateGraph(AgentState)
    builder.add_node("think", think)
    builder.add_node("tools", ToolNode([search]))
    builder.add_node("review", _reviewer())
    builder.add_node("approve", approve)
    builder.add_node("answer", answer)
    builder.add_edge(START, "think")
    builder.add_edge("think", "tools")
    builder.add_edge("tools", "review")
    builder.add_edge("review", "approve")
    builder.add_edge("approve", "answer")
    builder.add_edge("answer", END)
    return builder


agent = build().compile(name="agent")
