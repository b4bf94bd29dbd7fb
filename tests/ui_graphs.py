"""A graph that answers with a component (generative UI): its node pushes a `weather` UI message
with LangGraph's `push_ui_message`, tied to its AI message; the component module it declares is
tests/js/ui/weather.tsx (served with GATEWAY_UI='{"weather": "tests/js/ui/weather.tsx"}').

Input: `{"messages": [{"type": "human", "content": "<city>"}]}`; the card shows `<city>: 21°C`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.ui import AnyUIMessage, push_ui_message, ui_message_reducer

DEGREES = 21


class WeatherState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    ui: Annotated[list[AnyUIMessage], ui_message_reducer]


async def forecast(state: WeatherState) -> dict[str, Any]:
    humans = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage)]
    city = str(humans[-1].content) if humans else "Nowhere"
    message = AIMessage(id=str(uuid.uuid4()), content=f"The weather in {city}:")
    push_ui_message("weather", {"city": city, "degrees": DEGREES}, message=message)
    return {"messages": [message]}


builder = StateGraph(WeatherState)
builder.add_node("forecast", forecast)
builder.add_edge(START, "forecast")
weather = builder.compile(name="weather")
# The same graph under another name, which declares no UI.
plain = builder.compile(name="plain")
