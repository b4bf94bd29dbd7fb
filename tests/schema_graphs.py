"""Graphs whose states are declared in each way LangGraph accepts, for comparing the schemas
each server derives from them (GATEWAY_GRAPH=schema_graphs:<name>)."""

from __future__ import annotations

import operator
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any

import typing_extensions
from langchain_core.messages import AnyMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field


def _one_node(builder: StateGraph[Any, Any, Any, Any], name: str) -> Any:
    builder.add_node("step", lambda state: {})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile(name=name)


# typing.TypedDict: pydantic refuses it on Python < 3.12, so both servers answer its input
# and output schemas null, and derive its state schema from the graph's channels. (As a
# context schema it makes LangGraph's server answer 500, so it is not one here.)
class TypingState(typing.TypedDict):
    topic: str
    notes: Annotated[list[str], operator.add]
    count: typing_extensions.NotRequired[int]


typing_typed_dict = _one_node(StateGraph(TypingState), "typing_typed_dict")


class ExtensionsInput(typing_extensions.TypedDict):
    topic: str


class ExtensionsOutput(typing_extensions.TypedDict):
    summary: str


class ExtensionsState(ExtensionsInput, ExtensionsOutput, total=False):
    notes: Annotated[list[str], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]


class ExtensionsContext(typing_extensions.TypedDict, total=False):
    model: str


extensions_typed_dict = _one_node(
    StateGraph(
        ExtensionsState,
        context_schema=ExtensionsContext,
        input_schema=ExtensionsInput,
        output_schema=ExtensionsOutput,
    ),
    "extensions_typed_dict",
)


class Place(BaseModel):
    name: str
    lat: float = 0.0


class PydanticState(BaseModel):
    topic: str = Field(description="what to write about")
    places: list[Place] = Field(default_factory=list)
    notes: Annotated[list[str], operator.add] = Field(default_factory=list)
    draft: str | None = None


class PydanticContext(BaseModel):
    temperature: float = 0.5


pydantic_model = _one_node(
    StateGraph(PydanticState, context_schema=PydanticContext), "pydantic_model"
)


@dataclass
class DataclassState:
    topic: str
    notes: Annotated[list[str], operator.add] = field(default_factory=list)
    rounds: int = 1


@dataclass
class DataclassContext:
    user_id: str = "anonymous"


dataclass_state = _one_node(
    StateGraph(DataclassState, context_schema=DataclassContext), "dataclass_state"
)


class ChatState(MessagesState):
    summary: str


messages_state = _one_node(StateGraph(ChatState), "messages_state")

GRAPHS = (
    "typing_typed_dict",
    "extensions_typed_dict",
    "pydantic_model",
    "dataclass_state",
    "messages_state",
)
