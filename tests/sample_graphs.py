"""Small graphs the end-to-end tests serve (GATEWAY_GRAPH=sample_graphs:<name>)."""

from __future__ import annotations

import asyncio
import datetime as dt
import operator
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import adispatch_custom_event
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel

HOSTILE = "evil\nnode\r\x00\u2028\u2029\u0085<b>"


class State(TypedDict, total=False):
    topic: str
    result: Any


@tool(HOSTILE.replace("\x00", "").replace("\n", "_"))
def hostile_tool(topic: str) -> str:
    """A tool whose name carries characters that must stay inside JSON."""
    return f"tool saw {topic}\n\u2028done"


async def hostile_node(state: State) -> dict[str, Any]:
    await adispatch_custom_event(HOSTILE, {"text": HOSTILE})
    await hostile_tool.ainvoke({"topic": HOSTILE})
    return {"result": HOSTILE}


def _hostile() -> StateGraph:
    builder = StateGraph(State)
    builder.add_node(HOSTILE, hostile_node)
    builder.add_edge(START, HOSTILE)
    builder.add_edge(HOSTILE, END)
    return builder


hostile = _hostile().compile(name="hostile")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__


class Point(BaseModel):
    x: int
    y: int


@dataclass
class Box:
    label: str
    at: dt.datetime


async def odd_outputs(state: State) -> dict[str, Any]:
    return {
        "result": {
            "set": {3, 1, 2},
            "bytes": b"\xff\x00binary",
            "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "error": ValueError("bad value"),
            "model": Point(x=1, y=2),
            "box": Box("b", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
            "object": object(),
            "unprintable": Unprintable(),
            1: "int key",
        }
    }


async def huge_output(state: State) -> dict[str, Any]:
    return {"result": "x" * 300_000}


def _single(name: str, node: Any, state: Any = State) -> StateGraph:
    builder = StateGraph(state)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder


odd = _single("odd", odd_outputs).compile(name="odd")
huge = _single("huge", huge_output).compile(name="huge")
# A StateGraph builder and a factory are served too: the gateway compiles / calls them.
builder = _single("huge", huge_output)


def factory() -> Any:
    return _single("odd", odd_outputs)


async def ticking(state: State) -> dict[str, Any]:
    for _ in range(1000):
        await asyncio.sleep(0.01)
        await adispatch_custom_event("tick", {})
    return {"result": "done"}


ticks = _single("tick", ticking).compile(name="ticks")
not_a_graph = 42


async def pausing(state: dict[str, Any]) -> dict[str, Any]:
    await adispatch_custom_event("before", {})
    await asyncio.sleep(float(state.get("pause", 1)))
    await adispatch_custom_event("after", {})
    return {"result": "done"}


class PauseState(TypedDict, total=False):
    pause: float
    result: Any


# One node that goes quiet for `pause` seconds between two custom events.
quiet = _single("pause", pausing, PauseState).compile(name="quiet")


async def blocking(state: dict[str, Any]) -> dict[str, Any]:
    await adispatch_custom_event("before", {})
    time.sleep(float(state.get("pause", 1)))  # noqa: ASYNC251 (stalls the event loop on purpose)
    await adispatch_custom_event("after", {})
    return {"result": "done"}


# One node that stalls its process's event loop for `pause` seconds.
stall = _single("block", blocking, PauseState).compile(name="stall")


class AskState(TypedDict, total=False):
    answers: Annotated[list[str], operator.add]


def _asking(question: str) -> Any:
    async def ask(state: AskState) -> dict[str, Any]:
        return {"answers": [f"{question}={interrupt({'question': question})}"]}

    return ask


def _approvals() -> StateGraph:
    builder = StateGraph(AskState)
    builder.add_node("start", lambda state: {"answers": []})
    builder.add_node("ask_a", _asking("a"))
    builder.add_node("ask_b", _asking("b"))
    builder.add_edge(START, "start")
    builder.add_edge("start", "ask_a")
    builder.add_edge("start", "ask_b")
    builder.add_edge("ask_a", END)
    builder.add_edge("ask_b", END)
    return builder


# Two parallel nodes that both pause at interrupt().
approvals = _approvals().compile(name="approvals")
# One node, `inner`, that pauses; and the same inside a subgraph run by node `outer`.
asking = _single("inner", _asking("inner"), AskState).compile(name="asking")
nested = _single("outer", asking, AskState).compile(name="nested")


async def echoing(state: State) -> dict[str, Any]:
    return {"result": "ok"}


# One quick node whatever the input: for fuzzing the API, where inputs are arbitrary.
echo = _single("echo", echoing).compile(name="echo")


class FloodState(TypedDict, total=False):
    count: int
    size: int
    delay: float
    result: Any


async def flooding(state: FloodState) -> dict[str, Any]:
    for index in range(state.get("count", 100)):
        if state.get("delay"):
            await asyncio.sleep(state["delay"])
        await adispatch_custom_event("chunk", {"index": index, "text": "x" * state.get("size", 10)})
    return {"result": "done"}


# As many events as asked, as large and as spaced as asked: a steady stream, or a flood.
flood = _single("flood", flooding, FloodState).compile(name="flood")


class Connection:
    """What real graphs keep in their state: an object msgpack cannot encode and pickle cannot
    copy (it holds a lock)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()

    def __str__(self) -> str:
        return f"Connection({self.name})"


class HoldState(TypedDict, total=False):
    topic: str
    connection: Connection
    result: Any


async def connecting(state: HoldState) -> dict[str, Any]:
    return {"connection": Connection(state.get("topic", "db")), "result": "connected"}


async def using(state: HoldState) -> dict[str, Any]:
    return {"result": f"used {state['connection'].name}"}


def _holder() -> StateGraph:
    builder = StateGraph(HoldState)
    builder.add_node("connect", connecting)
    builder.add_node("use", using)
    builder.add_edge(START, "connect")
    builder.add_edge("connect", "use")
    builder.add_edge("use", END)
    return builder


# A node that puts a Connection into the state, and one that reads it back.
holder = _holder().compile(name="holder")
