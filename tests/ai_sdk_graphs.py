"""A graph whose model asks for a tool that a person must approve first, as an agent behind
`useChat` would: the model streams, calls `weather`; `review` pauses at an interrupt naming
that call; approved, a `ToolNode` runs it (a failure is the call's answer), denied, the call
is answered with a refusal; then the model replies. Served by the AI SDK tests
(`ai_sdk_graphs:assistant`).

Input: `{"messages": [...], "tokens": int, "token_delay": float}`.

And `reasoner`: one node whose model streams its reasoning (LangChain's standard reasoning
blocks), then its answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from app.graphs.demo import DemoChatModel


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    tokens: int
    token_delay: float


def _model(state: State) -> DemoChatModel:
    return DemoChatModel(
        tokens=int(state.get("tokens") or 6), token_delay=float(state.get("token_delay") or 0.01)
    )


def _question(state: State) -> str:
    humans = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage)]
    return str(humans[-1].content) if humans else "nothing"


@tool
def weather(city: str) -> str:
    """The (offline) weather of a city."""
    if city == "Atlantis":
        raise ValueError(f"no weather in {city}")
    return f"sunny in {city}"


async def think(state: State) -> dict[str, Any]:
    reply = await _model(state).ainvoke([HumanMessage(content=f"checking {_question(state)}")])
    turn = sum(isinstance(m, HumanMessage) for m in state.get("messages") or [])
    call = {"name": "weather", "args": {"city": _question(state)}, "id": f"call-weather-{turn}"}
    return {"messages": [AIMessage(content=reply.content, tool_calls=[call], id=reply.id)]}


async def review(state: State) -> Command[Any]:
    call = state["messages"][-1].tool_calls[0]  # type: ignore[union-attr]
    approved = interrupt({"tool_call_id": call["id"], "tool": call["name"], "args": call["args"]})
    if approved is True:
        return Command(goto="tools")
    refusal = ToolMessage(content="the person said no", tool_call_id=call["id"])
    return Command(goto="reply", update={"messages": [refusal]})


async def reply(state: State) -> dict[str, Any]:
    answer = await _model(state).ainvoke([HumanMessage(content=f"reply {_question(state)}")])
    return {"messages": [answer]}


def build() -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("think", think)
    builder.add_node("review", review, destinations=("tools", "reply"))
    builder.add_node("tools", ToolNode([weather], handle_tool_errors=True))
    builder.add_node("reply", reply)
    builder.add_edge(START, "think")
    builder.add_edge("think", "review")
    builder.add_edge("tools", "reply")
    builder.add_edge("reply", END)
    return builder


assistant = build().compile(name="assistant")


REASONING = ["The", " question", " is", " short."]
ANSWER = ["Short", " answer."]


class ReasoningModel(BaseChatModel):
    """Streams its reasoning as standard reasoning blocks, then its answer as text."""

    @property
    def _llm_type(self) -> str:
        return "reasoning-test"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        message = AIMessage(content="".join(ANSWER))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        run_manager = kwargs.get("run_manager")
        blocks = [{"type": "reasoning", "reasoning": piece, "index": 0} for piece in REASONING]
        blocks += [{"type": "text", "text": piece, "index": 1} for piece in ANSWER]
        for block in blocks:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=[block]))
            if run_manager is not None:
                await run_manager.on_llm_new_token("", chunk=chunk)
            yield chunk


async def reason(state: State) -> dict[str, Any]:
    reply = await ReasoningModel().ainvoke(state.get("messages") or [])
    return {"messages": [reply]}


def _reasoner() -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("reason", reason)
    builder.add_edge(START, "reason")
    builder.add_edge("reason", END)
    return builder


reasoner = _reasoner().compile(name="reasoner")


@tool
def send_email(to: str, body: str) -> str:
    """Send an email (offline: nothing leaves)."""
    return f"sent to {to}"


class ToolCallingModel(BaseChatModel):
    """Asks to email everyone the last question names, then, given the tools' answers, says
    what happened."""

    @property
    def _llm_type(self) -> str:
        return "tool-calling-test"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        last = messages[-1]
        if isinstance(last, HumanMessage):
            names = str(last.content).split()
            calls = [
                {"name": "send_email", "args": {"to": n, "body": "hi"}, "id": f"call-{n}"}
                for n in names
            ]
            message = AIMessage(content="Emailing them.", tool_calls=calls)
        else:
            answers = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
            message = AIMessage(content="Done: " + "; ".join(answers))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        # As a provider streams it: the text, then each call whole.
        message = self._generate(messages).generations[0].message
        assert isinstance(message, AIMessage)
        chunks = [AIMessageChunk(content=message.content)]
        chunks += [
            AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                ],
            )
            for i, c in enumerate(message.tool_calls)
        ]
        run_manager = kwargs.get("run_manager")
        for chunk in chunks:
            generation = ChatGenerationChunk(message=chunk)
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation


def _agent() -> Any:
    from langchain.agents import create_agent
    from langchain.agents.middleware import HumanInTheLoopMiddleware

    approvals = HumanInTheLoopMiddleware(
        interrupt_on={"send_email": {"allowed_decisions": ["approve", "reject"]}}
    )
    return create_agent(ToolCallingModel(), [send_email], middleware=[approvals], name="agent")


# LangChain's create_agent, whose HumanInTheLoopMiddleware asks before every email.
agent = _agent()
