"""The built-in demo graph: offline, deterministic, and paced so progress is visible.

START → plan → (research_web ∥ research_docs) → merge ─┬→ lookup → write → END
                                                       └──────────→ write
Input fields (all optional; query-string values arrive as strings and are coerced):

| field       | default            | meaning                                        |
|-------------|--------------------|------------------------------------------------|
| topic       | "server-sent events" | what the answer is about                     |
| delay       | 0.4                | seconds each node takes                        |
| tokens      | 40                 | how many tokens the model streams              |
| token_delay | 0.04               | seconds between tokens                         |
| use_tool    | true               | route through the `lookup` tool node           |
| approve     | false              | `lookup` asks for approval (interrupt) first   |
| fail        | ""                 | name of a node that raises, to show errors     |

On a thread the state is a conversation: `messages` keeps every question and answer, so a
second run sees the first. A chat client may send its question as a message instead of a
topic (`{"messages": [{"type": "human", "content": "…"}]}`). Like any LangGraph state, fields
a run leaves out keep the values of the thread's earlier runs.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from typing import Annotated, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, adispatch_custom_event
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt

# pydantic builds schemas from this state (AG-UI's LangGraph adapter does): before Python 3.12
# it takes only typing_extensions' TypedDict.
from typing_extensions import TypedDict

TEXT = (
    "Server-sent events keep one HTTP response open and push named, numbered events down it. "
    "A browser's EventSource reconnects by itself and sends Last-Event-ID, so a gateway that "
    "keeps each run as a log can resume exactly where the reader left off, with heartbeats "
    "holding idle proxies open and a final run.end telling the client to stop."
)
WORDS = TEXT.split()


class DemoInput(TypedDict, total=False):
    topic: str
    # A chat client sends its message here instead of a topic (as LangGraph's useStream does).
    messages: Annotated[list[AnyMessage], add_messages]
    delay: float | str
    tokens: int | str
    token_delay: float | str
    use_tool: bool | str
    approve: bool | str
    fail: str


class DemoState(DemoInput, total=False):
    notes: Annotated[list[str], operator.add]
    facts: str
    answer: str


class DemoFailure(RuntimeError):
    """Raised by the node named in the input's `fail` field."""


def _number(value: Any, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off", ""}
    return bool(value)


def _delay(state: DemoState) -> float:
    return _number(state.get("delay"), 0.4)


def _maybe_fail(state: DemoState, node: str) -> None:
    if state.get("fail") == node:
        raise DemoFailure(f"node {node!r} failed on purpose (input fail={node!r})")


class DemoChatModel(BaseChatModel):
    """A fake chat model that streams a fixed text word by word, with a pause per token."""

    tokens: int = 40
    token_delay: float = 0.04

    @property
    def _llm_type(self) -> str:
        return "demo-chat"

    def _text(self, messages: list[BaseMessage]) -> list[str]:
        prompt = str(messages[-1].content) if messages else ""
        words = [f"On {prompt}:"] + [WORDS[i % len(WORDS)] for i in range(max(self.tokens - 1, 0))]
        return [w if i == 0 else f" {w}" for i, w in enumerate(words[: self.tokens])]

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        text = "".join(self._text(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        pieces = self._text(messages)
        for i, piece in enumerate(pieces):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            last = i == len(pieces) - 1
            chunk = AIMessageChunk(
                content=piece,
                usage_metadata={
                    "input_tokens": 8,
                    "output_tokens": len(pieces),
                    "total_tokens": 8 + len(pieces),
                }
                if last
                else None,
                chunk_position="last" if last else None,
            )
            if run_manager:
                await run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)


@tool
def lookup(topic: str) -> str:
    """Look a topic up in the (offline) reference shelf."""
    return f"{topic}: text/event-stream, id/event/data fields, retry, Last-Event-ID on reconnect"


def _asked(state: DemoState) -> bool:
    """Whether the run's input brought the question as a message (a chat client)."""
    messages = state.get("messages") or []
    return bool(messages) and isinstance(messages[-1], HumanMessage)


def _topic(state: DemoState) -> str:
    if _asked(state):
        return str(state["messages"][-1].content)
    return state.get("topic") or "server-sent events"


async def plan(state: DemoState) -> dict[str, Any]:
    await adispatch_custom_event("progress", {"step": "planning", "percent": 0})
    await asyncio.sleep(_delay(state))
    _maybe_fail(state, "plan")
    await adispatch_custom_event("progress", {"step": "planning", "percent": 100})
    topic = _topic(state)
    update: dict[str, Any] = {"notes": [f"plan: explain {topic}"]}
    if not _asked(state):
        update["messages"] = [HumanMessage(content=topic)]
    return update


async def _research(state: DemoState, source: str) -> dict[str, Any]:
    write = get_stream_writer()
    steps = 4
    for i in range(steps):
        await asyncio.sleep(_delay(state) / steps * 2)
        write({"source": source, "percent": round(100 * (i + 1) / steps)})
    _maybe_fail(state, f"research_{source}")
    return {"notes": [f"{source}: found {3 + len(source)} sources"]}


async def research_web(state: DemoState) -> dict[str, Any]:
    return await _research(state, "web")


async def research_docs(state: DemoState) -> dict[str, Any]:
    return await _research(state, "docs")


async def merge(state: DemoState) -> dict[str, Any]:
    await asyncio.sleep(_delay(state) / 2)
    _maybe_fail(state, "merge")
    return {"notes": [f"merged {len(state.get('notes', []))} notes"]}


def route_after_merge(state: DemoState) -> str:
    return "lookup" if _flag(state.get("use_tool"), True) else "write"


async def lookup_node(state: DemoState) -> dict[str, Any]:
    await asyncio.sleep(_delay(state) / 2)
    _maybe_fail(state, "lookup")
    topic = _topic(state)
    if _flag(state.get("approve"), False):
        # Pauses the run here; resuming the thread with true calls the tool, false skips it.
        # (A resumed node runs again from its start, and interrupt() then returns the answer.)
        approved = interrupt(
            {
                "question": f"Look {topic!r} up with the lookup tool?",
                "tool": "lookup",
                "args": {"topic": topic},
            }
        )
        if not _flag(approved, False):
            return {"facts": f"(the lookup of {topic!r} was not approved)"}
    facts = await lookup.ainvoke({"topic": topic})
    return {"facts": facts}


async def write(state: DemoState) -> dict[str, Any]:
    _maybe_fail(state, "write")
    model = DemoChatModel(
        tokens=int(_number(state.get("tokens"), 40)),
        token_delay=_number(state.get("token_delay"), 0.04),
    )
    asked = sum(isinstance(m, HumanMessage) for m in state.get("messages", []))
    topic = _topic(state)
    prompt = topic if asked <= 1 else f"{topic} (your message {asked})"
    reply = await model.ainvoke([HumanMessage(content=prompt)])
    return {"answer": str(reply.content), "messages": [reply]}


def build_demo_graph() -> StateGraph:
    builder = StateGraph(DemoState, input_schema=DemoInput)
    builder.add_node("plan", plan)
    builder.add_node("research_web", research_web)
    builder.add_node("research_docs", research_docs)
    builder.add_node("merge", merge)
    builder.add_node("lookup", lookup_node)
    builder.add_node("write", write)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "research_web")
    builder.add_edge("plan", "research_docs")
    builder.add_edge(["research_web", "research_docs"], "merge")
    builder.add_conditional_edges("merge", route_after_merge, ["lookup", "write"])
    builder.add_edge("lookup", "write")
    builder.add_edge("write", END)
    return builder


graph = build_demo_graph().compile(name="demo")
