"""Translator and RawPassthrough, fed recorded demo events and small hand-built ones.

tests/data/demo_run_events.json holds the raw `astream_events(version="v2",
stream_mode=["custom"])` events of one successful demo run (input in its "input" key): only
event, name, run_id, parent_ids, tags, langgraph_* metadata and data are kept; tuples are
stored as {"__tuple__": [...]} and messages as {"__message__": class name, "fields": dict}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core import messages
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.messages.ai import UsageMetadata

from app.graphs.demo import DemoFailure
from app.translate import STREAM_MODE, Emitted, RawPassthrough, Translator, pending_interrupts

Raw = dict[str, Any]

DEMO_FILE = Path(__file__).parent / "data" / "demo_run_events.json"
ROOT = "run-root"
TASK = "1f0c2d3e-0000-4000-8000-000000000000"


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(decode(item) for item in value["__tuple__"])
    if "__message__" in value:
        return getattr(messages, value["__message__"])(**decode(value["fields"]))
    return {key: decode(item) for key, item in value.items()}


def load_demo() -> tuple[Raw, list[Raw]]:
    doc = json.loads(DEMO_FILE.read_text())
    return doc["input"], decode(doc["events"])


def translate_all(translator: Translator, events: list[Raw], step_ms: int = 10) -> Emitted:
    emitted: Emitted = []
    for i, raw in enumerate(events):
        emitted.extend(translator.translate(raw, i * step_ms))
    return emitted


def root_event(event: str, data: Raw | None = None, name: str = "g") -> Raw:
    return {
        "event": event,
        "name": name,
        "run_id": ROOT,
        "parent_ids": [],
        "tags": [],
        "metadata": {},
        "data": data or {},
    }


def event(
    kind: str,
    name: str,
    run_id: str,
    *,
    node: str,
    tags: list[str],
    step: int = 1,
    ns: str | None = None,
    triggers: tuple[str, ...] | None = None,
    data: Raw | None = None,
) -> Raw:
    return {
        "event": kind,
        "name": name,
        "run_id": run_id,
        "parent_ids": [ROOT],
        "tags": tags,
        "metadata": {
            "langgraph_step": step,
            "langgraph_node": node,
            "langgraph_triggers": triggers or (f"branch:to:{node}",),
            "langgraph_path": ("__pregel_pull", node),
            "langgraph_checkpoint_ns": ns if ns is not None else f"{node}:{TASK}",
        },
        "data": data or {},
    }


def node_event(kind: str, node: str, run_id: str, *, step: int = 1, **kwargs: Any) -> Raw:
    return event(kind, node, run_id, node=node, tags=[f"graph:step:{step}"], step=step, **kwargs)


def inner_event(
    kind: str,
    name: str,
    run_id: str,
    *,
    node: str = "write",
    tags: list[str] | None = None,
    data: Raw | None = None,
) -> Raw:
    return event(kind, name, run_id, node=node, tags=tags or ["seq:step:1"], data=data)


def started() -> Translator:
    translator = Translator()
    translator.translate(root_event("on_chain_start", {"input": {"q": "hi"}}), 0)
    return translator


def open_nodes(translator: Translator, *nodes: str) -> None:
    for i, node in enumerate(nodes):
        translator.translate(node_event("on_chain_start", node, f"{node}-{i}"), 100)


def writer_chunk(data: Any) -> Raw:
    return root_event("on_chain_stream", {"chunk": ("custom", data)})


def names(emitted: Emitted) -> list[str]:
    return [name for name, _ in emitted]


# run lifecycle


def test_root_chain_start_gives_run_start_with_input_and_graph_name() -> None:
    translator = Translator()
    raw = root_event("on_chain_start", {"input": {"q": "hi"}}, name="my_graph")

    assert translator.translate(raw, 0) == [
        (
            "run.start",
            {"input": {"q": "hi"}, "graph": "my_graph", "thread_id": None, "command": None},
        )
    ]
    assert translator.root_run_id == ROOT


def test_a_resumed_run_starts_with_its_thread_and_command_and_no_input() -> None:
    translator = Translator(thread_id="t1", command={"resume": True})
    raw = root_event("on_chain_start", {"input": object()}, name="g")  # LangGraph's Command

    assert translator.translate(raw, 0) == [
        ("run.start", {"input": None, "graph": "g", "thread_id": "t1", "command": {"resume": True}})
    ]


def test_recorded_root_start_gives_run_start() -> None:
    input_, events = load_demo()

    assert Translator().translate(events[0], 0) == [
        ("run.start", {"input": input_, "graph": "demo", "thread_id": None, "command": None})
    ]


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param({"q": "hi", "answer": "a"}, id="values-dict"),
        pytest.param(("values", {"answer": "a"}), id="values-tuple"),
        pytest.param(("updates", {"write": {"answer": "a"}}), id="updates-tuple"),
        pytest.param(("messages", (AIMessageChunk(content="a"), {})), id="messages-tuple"),
    ],
)
def test_root_stream_chunks_that_are_not_custom_give_nothing(chunk: Any) -> None:
    translator = started()

    assert translator.translate(root_event("on_chain_stream", {"chunk": chunk}), 5) == []


def test_root_chain_end_gives_nothing_and_keeps_output() -> None:
    translator = started()
    output = {"q": "hi", "answer": "done"}

    assert translator.translate(root_event("on_chain_end", {"output": output}), 9) == []
    assert translator.output == output


# nodes


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        pytest.param("merge", ["graph:step:3"], ["node.start", "node.end"], id="node-chain"),
        pytest.param("route_after_merge", ["seq:step:3"], [], id="conditional-edge"),
        pytest.param("merge", ["seq:step:1"], [], id="same-name-nested"),
        pytest.param("LangGraph", ["graph:step:3"], [], id="other-name-step-tag"),
        pytest.param("merge", [], [], id="no-tags"),
    ],
)
def test_only_a_nodes_own_chain_gives_node_events(
    name: str, tags: list[str], expected: list[str]
) -> None:
    translator = started()
    kwargs: Any = {"node": "merge", "tags": tags, "step": 3}

    emitted = translator.translate(event("on_chain_start", name, "r1", **kwargs), 10)
    emitted += translator.translate(event("on_chain_end", name, "r1", **kwargs), 20)

    assert names(emitted) == expected


@pytest.mark.parametrize(
    ("ns", "path", "graph_ns"),
    [
        pytest.param(f"plan:{TASK}", [], None, id="top-level"),
        pytest.param(f"outer:{TASK}|inner:{TASK}", ["outer"], [f"outer:{TASK}"], id="subgraph"),
        pytest.param(
            f"a:{TASK}|b:{TASK}|inner:{TASK}",
            ["a", "b"],
            [f"a:{TASK}", f"b:{TASK}"],
            id="nested-subgraph",
        ),
        pytest.param(
            f"outer:{TASK}|1|inner:{TASK}",
            ["outer"],
            [f"outer:{TASK}", "1"],
            # LangGraph numbers a second call of the same subgraph from one node.
            id="subgraph-called-twice",
        ),
    ],
)
def test_node_start_fields(ns: str, path: list[str], graph_ns: list[str] | None) -> None:
    translator = started()
    raw = node_event(
        "on_chain_start", "inner", "span-1", step=2, ns=ns, triggers=("branch:to:inner",)
    )

    assert translator.translate(raw, 10) == [
        (
            "node.start",
            {
                "node": "inner",
                "step": 2,
                "triggers": ["branch:to:inner"],
                "span_id": "span-1",
                "path": path,
                "task_id": TASK,
                # Only inside a subgraph: the namespace of the graph the node runs in.
                **({"ns": graph_ns} if graph_ns else {}),
            },
        )
    ]


def test_recorded_node_start_has_join_triggers_and_raw_run_id() -> None:
    _, events = load_demo()
    raw = next(e for e in events if e["event"] == "on_chain_start" and e["name"] == "merge")

    _, fields = started().translate(raw, 0)[0]

    assert fields == {
        "node": "merge",
        "step": 3,
        "triggers": ["branch:to:merge", "join:research_web+research_docs:merge"],
        "span_id": raw["run_id"],
        "path": [],
        "task_id": raw["metadata"]["langgraph_checkpoint_ns"].partition(":")[2],
    }


def test_node_end_gives_duration_and_update() -> None:
    translator = started()
    translator.translate(node_event("on_chain_start", "plan", "p1", step=1), 1_000)
    output = {"notes": ["plan: explain x"]}

    emitted = translator.translate(
        node_event("on_chain_end", "plan", "p1", data={"output": output}), 1_250
    )

    assert emitted == [
        (
            "node.end",
            {"node": "plan", "step": 1, "span_id": "p1", "duration_ms": 250, "update": output},
        )
    ]
    assert translator.open_nodes == {}


def test_parallel_nodes_each_end_matches_its_own_start() -> None:
    translator = started()
    translator.translate(node_event("on_chain_start", "web", "w1", step=2), 100)
    translator.translate(node_event("on_chain_start", "docs", "d1", step=2), 110)

    docs_end = translator.translate(node_event("on_chain_end", "docs", "d1", step=2), 200)
    web_end = translator.translate(node_event("on_chain_end", "web", "w1", step=2), 300)

    assert [(f["node"], f["span_id"], f["duration_ms"]) for _, f in docs_end + web_end] == [
        ("docs", "d1", 90),
        ("web", "w1", 200),
    ]


def test_chain_end_without_a_start_gives_nothing() -> None:
    translator = started()

    assert translator.translate(node_event("on_chain_end", "plan", "never-started"), 5) == []


# errors


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        pytest.param(
            DemoFailure("node 'plan' failed on purpose"),
            {"type": "DemoFailure", "message": "node 'plan' failed on purpose"},
            id="demo-failure",
        ),
        pytest.param(
            ValueError("bad input"),
            {"type": "ValueError", "message": "bad input"},
            id="value-error",
        ),
    ],
)
def test_fail_closes_every_open_node_then_the_run(exc: Exception, error: dict[str, str]) -> None:
    translator = started()
    open_nodes(translator, "web", "docs")
    try:
        raise exc
    except Exception as caught:
        emitted = translator.fail(caught)

    assert emitted == [
        ("node.error", {"node": "web", "span_id": "web-0", "error": error}),
        ("node.error", {"node": "docs", "span_id": "docs-1", "error": error}),
        ("run.error", {"error": error}),
    ]
    assert "Traceback" not in repr(emitted)
    assert translator.open_nodes == {}


def test_fail_with_no_open_node_gives_only_run_error() -> None:
    assert started().fail(RuntimeError("boom")) == [
        ("run.error", {"error": {"type": "RuntimeError", "message": "boom"}})
    ]


def test_fail_during_recorded_parallel_research() -> None:
    _, events = load_demo()
    translator = Translator()
    cut = next(
        i
        for i, e in enumerate(events)
        if e["event"] == "on_chain_end" and e["name"].startswith("research_")
    )
    translate_all(translator, events[:cut])

    emitted = translator.fail(DemoFailure("x"))

    assert sorted((n, f["node"]) for n, f in emitted[:2]) == [
        ("node.error", "research_docs"),
        ("node.error", "research_web"),
    ]
    assert names(emitted) == ["node.error", "node.error", "run.error"]


# custom events


def test_dispatched_custom_event_names_its_node() -> None:
    translator = started()
    raw = inner_event(
        "on_custom_event", "progress", "p1", node="plan", data={"step": "planning", "percent": 0}
    )

    assert translator.translate(raw, 5) == [
        ("custom", {"node": "plan", "name": "progress", "data": {"step": "planning", "percent": 0}})
    ]


@pytest.mark.parametrize(
    "nodes",
    [
        pytest.param((), id="none-open"),
        pytest.param(("research_web",), id="one-open"),
        pytest.param(("research_web", "research_docs"), id="two-nodes-open"),
    ],
)
def test_stream_writer_chunk_names_no_node(nodes: tuple[str, ...]) -> None:
    translator = started()
    open_nodes(translator, *nodes)

    assert translator.translate(writer_chunk({"percent": 25}), 5) == [
        ("custom", {"node": None, "name": "custom", "data": {"percent": 25}})
    ]


# A writer chunk reaches astream_events as a root on_chain_stream, and only after the writing
# node's on_chain_end when the node returns right after writing (langgraph 1.2): crediting it
# to whichever node is open would name a node that never wrote it.
def test_writer_chunk_after_its_node_ended_is_not_credited_to_another_node() -> None:
    translator = started()
    translator.translate(node_event("on_chain_start", "fast", "f1"), 10)
    translator.translate(node_event("on_chain_start", "slow", "s1"), 11)
    translator.translate(node_event("on_chain_end", "fast", "f1"), 12)

    [(_, fields)] = translator.translate(writer_chunk({"from": "fast"}), 13)

    assert fields["node"] in (None, "fast")


# tokens and llm.end


@pytest.mark.parametrize(
    ("tags", "chunk", "text"),
    [
        pytest.param(["seq:step:1"], AIMessageChunk(content="On x:", id="m1"), "On x:", id="text"),
        pytest.param(
            ["seq:step:1"],
            AIMessageChunk(content=[{"type": "text", "text": "block"}], id="m1"),
            "block",
            id="content-blocks",
        ),
        pytest.param(["seq:step:1"], AIMessageChunk(content="", id="m1"), None, id="empty"),
        pytest.param(
            ["seq:step:1"],
            AIMessageChunk(
                content="",
                id="m1",
                tool_call_chunks=[{"name": "lookup", "args": "{}", "id": "c1", "index": 0}],
            ),
            None,
            id="tool-call-only",
        ),
        pytest.param(["nostream"], AIMessageChunk(content="hi", id="m1"), None, id="nostream"),
        pytest.param(
            ["seq:step:1", "langsmith:nostream"],
            AIMessageChunk(content="hi", id="m1"),
            None,
            id="langsmith-nostream",
        ),
    ],
)
def test_chat_model_stream(tags: list[str], chunk: AIMessageChunk, text: str | None) -> None:
    raw = inner_event("on_chat_model_stream", "Model", "llm-1", tags=tags, data={"chunk": chunk})

    expected = [("token", {"node": "write", "span_id": "llm-1", "message_id": "m1", "text": text})]
    assert started().translate(raw, 5) == (expected if text is not None else [])


USAGE: UsageMetadata = {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11}


def llm_end(usage: UsageMetadata | None) -> Emitted:
    return [("llm.end", {"node": "write", "span_id": "llm-1", "message_id": "m1", "usage": usage})]


def streamed(translator: Translator) -> Translator:
    """The model call llm-1 has streamed a chunk."""
    chunk = AIMessageChunk(content="a", id="m1")
    translator.translate(
        inner_event("on_chat_model_stream", "Model", "llm-1", data={"chunk": chunk}), 5
    )
    return translator


@pytest.mark.parametrize(
    ("tags", "message", "expected"),
    [
        pytest.param(
            ["seq:step:1"],
            AIMessage(content="a", id="m1", usage_metadata=USAGE),
            llm_end(USAGE),
            id="usage",
        ),
        pytest.param(["seq:step:1"], AIMessage(content="a", id="m1"), llm_end(None), id="no-usage"),
        pytest.param(["nostream"], AIMessage(content="a", id="m1"), [], id="nostream"),
    ],
)
def test_chat_model_end(tags: list[str], message: AIMessage, expected: Emitted) -> None:
    raw = inner_event("on_chat_model_end", "Model", "llm-1", tags=tags, data={"output": message})

    assert streamed(started()).translate(raw, 5) == expected


def test_a_model_that_did_not_stream_gives_its_text_as_one_token() -> None:
    message = AIMessage(content="the whole answer", id="m1")
    raw = inner_event("on_chat_model_end", "Model", "llm-1", data={"output": message})
    token = {"node": "write", "span_id": "llm-1", "message_id": "m1", "text": "the whole answer"}
    assert started().translate(raw, 5) == [("token", token), *llm_end(None)]


# tools


def test_tool_start() -> None:
    raw = inner_event(
        "on_tool_start", "lookup", "t1", node="lookup", data={"input": {"topic": "x"}}
    )

    assert started().translate(raw, 5) == [
        (
            "tool.start",
            {"node": "lookup", "span_id": "t1", "tool": "lookup", "input": {"topic": "x"}},
        )
    ]


@pytest.mark.parametrize(
    ("kind", "data", "result"),
    [
        pytest.param("on_tool_end", {"output": "x: facts"}, {"output": "x: facts"}, id="str"),
        pytest.param("on_tool_end", {"output": {"n": 1}}, {"output": {"n": 1}}, id="dict"),
        pytest.param(
            "on_tool_end",
            {"output": ToolMessage(content="x: facts", tool_call_id="c1", name="lookup")},
            # The call a ToolNode answered: the id the model gave it.
            {"output": "x: facts", "tool_call_id": "c1"},
            id="tool-message",
        ),
        pytest.param(
            "on_tool_error",
            {"error": KeyError("topic")},
            {"error": {"type": "KeyError", "message": "'topic'"}},
            id="error",
        ),
        pytest.param(
            "on_tool_error",
            {"error": "timed out"},
            {"error": {"type": "ToolError", "message": "timed out"}},
            id="error-not-exception",
        ),
        pytest.param(
            "on_tool_error",
            {"error": ValueError("no"), "tool_call_id": "call-1"},
            {"error": {"type": "ValueError", "message": "no"}, "tool_call_id": "call-1"},
            id="error-answering-a-call",
        ),
    ],
)
def test_tool_end(kind: str, data: Raw, result: Raw) -> None:
    raw = inner_event(kind, "lookup", "t1", node="lookup", data=data)

    assert started().translate(raw, 5) == [
        ("tool.end", {"node": "lookup", "span_id": "t1", "tool": "lookup", **result})
    ]


# the recorded demo run


def test_recorded_run_event_sequence() -> None:
    _, events = load_demo()

    emitted = translate_all(Translator(), events)

    assert names(emitted) == [
        "run.start",
        *["node.start", "custom", "custom", "node.end"],
        *["node.start", "node.start", *["custom"] * 6, "node.end", "node.end", "custom", "custom"],
        *["node.start", "node.end"],
        *["node.start", "tool.start", "tool.end", "node.end"],
        *["node.start", "token", "token", "token", "llm.end", "node.end"],
    ]


def test_recorded_run_nodes_and_spans() -> None:
    _, events = load_demo()
    translator = Translator()

    emitted = translate_all(translator, events)

    starts = [(f["node"], f["span_id"]) for n, f in emitted if n == "node.start"]
    ends = [(f["node"], f["span_id"]) for n, f in emitted if n == "node.end"]
    started_nodes = [node for node, _ in starts]
    assert started_nodes[0] == "plan"
    assert sorted(started_nodes[1:3]) == ["research_docs", "research_web"]
    assert started_nodes[3:] == ["merge", "lookup", "write"]
    assert sorted(starts) == sorted(ends)
    order = [(n, f["node"]) for n, f in emitted if n.startswith("node.")]
    research = [i for i, (_, node) in enumerate(order) if node.startswith("research_")]
    assert [order[i][0] for i in research] == ["node.start"] * 2 + ["node.end"] * 2
    assert translator.open_nodes == {}


def test_recorded_run_custom_events() -> None:
    _, events = load_demo()

    customs = [f for n, f in translate_all(Translator(), events) if n == "custom"]

    assert [(f["node"], f["name"]) for f in customs[:2]] == [("plan", "progress")] * 2
    assert [f["data"]["percent"] for f in customs[:2]] == [0, 100]
    writer = customs[2:]
    assert {(f["node"], f["name"]) for f in writer} == {(None, "custom")}
    assert sorted((f["data"]["source"], f["data"]["percent"]) for f in writer) == [
        (source, percent) for source in ("docs", "web") for percent in (25, 50, 75, 100)
    ]


def test_recorded_run_conditional_edge_gives_nothing() -> None:
    _, events = load_demo()
    translator = Translator()
    edge_ids = {e["run_id"] for e in events if e["name"] == "route_after_merge"}
    assert len(edge_ids) == 1

    for i, raw in enumerate(events):
        emitted = translator.translate(raw, i)
        if raw["run_id"] in edge_ids:
            assert emitted == []
        assert all(f.get("span_id") not in edge_ids for _, f in emitted)


def test_recorded_run_tokens_tool_and_output() -> None:
    _, events = load_demo()
    translator = Translator()

    emitted = translate_all(translator, events)

    [model] = [e for e in events if e["event"] == "on_chat_model_end"]
    span_id, message_id = model["run_id"], model["data"]["output"].id
    tokens = [f for n, f in emitted if n == "token"]
    assert [f["text"] for f in tokens] == ["On x:", " Server-sent", " events"]
    assert {(f["node"], f["span_id"], f["message_id"]) for f in tokens} == {
        ("write", span_id, message_id)
    }
    assert [f for n, f in emitted if n == "llm.end"] == [
        {"node": "write", "span_id": span_id, "message_id": message_id, "usage": USAGE}
    ]
    [tool_end] = [f for n, f in emitted if n == "tool.end"]
    facts = "x: text/event-stream, id/event/data fields, retry, Last-Event-ID on reconnect"
    assert (tool_end["node"], tool_end["tool"], tool_end["output"]) == ("lookup", "lookup", facts)
    write_end = [f for n, f in emitted if n == "node.end"][-1]
    assert (write_end["node"], write_end["update"]) == (
        "write",
        {"answer": "On x: Server-sent events"},
    )
    assert translator.output["answer"] == "On x: Server-sent events"
    assert translator.output["facts"] == facts


# raw mode


def test_raw_passthrough_names_each_event_by_its_langchain_name() -> None:
    _, events = load_demo()
    raw_mode = RawPassthrough()

    for i, raw in enumerate(events):
        [(name, fields)] = raw_mode.translate(raw, i)
        assert name == raw["event"]
        assert fields == {"event": raw}
        assert fields["event"] is raw

    assert raw_mode.output == events[-1]["data"]["output"]


@pytest.mark.parametrize(
    ("raw", "output"),
    [
        pytest.param(root_event("on_chain_end", {"output": {"a": 1}}), {"a": 1}, id="root-end"),
        pytest.param(node_event("on_chain_end", "plan", "p1", data={"output": 2}), None, id="node"),
        pytest.param(
            inner_event("on_retriever_start", "docs", "x1", data={"input": "q"}), None, id="other"
        ),
    ],
)
def test_raw_passthrough_keeps_only_the_root_output(raw: Raw, output: Any) -> None:
    raw_mode = RawPassthrough()

    assert raw_mode.translate(raw, 0) == [(raw["event"], {"event": raw})]
    assert raw_mode.output == output


def test_raw_passthrough_fail_gives_run_error() -> None:
    assert RawPassthrough().fail(DemoFailure("no")) == [
        ("run.error", {"error": {"type": "DemoFailure", "message": "no"}})
    ]


# interrupts: real graphs, paused, read back the way the runner reads them


async def pause(graph: Any, checkpointer: bool = True) -> tuple[Translator, Emitted, Any]:
    """Run `graph` until it pauses; the translator, what it emitted, and the pending
    interrupts as the runner finds them (None without a checkpointer)."""
    from langgraph.checkpoint.memory import InMemorySaver

    if checkpointer:
        graph = graph.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "t"}}
    translator = Translator(thread_id="t")
    emitted: Emitted = []
    async for raw in graph.astream_events({}, config, version="v2", stream_mode=STREAM_MODE):
        emitted += translator.translate(raw, 0)
    pending = None
    if checkpointer:
        pending = pending_interrupts(await graph.aget_state(config, subgraphs=True))
    return translator, emitted, pending


def started_spans(emitted: Emitted) -> dict[str, str]:
    return {f["node"]: f["span_id"] for name, f in emitted if name == "node.start"}


async def test_one_interrupt_is_found_with_its_open_node() -> None:
    from sample_graphs import asking

    translator, emitted, pending = await pause(asking)
    assert translator.interrupted
    (only,) = pending
    assert (only.node, only.value, only.path) == ("inner", {"question": "inner"}, ())
    (event,) = translator.interrupt(pending)
    assert event[0] == "run.interrupt"
    assert event[1]["interrupts"] == [
        {
            "id": only.id,
            "value": {"question": "inner"},
            "node": "inner",
            "span_id": started_spans(emitted)["inner"],
            "path": [],
        }
    ]
    # The paused node never ended.
    assert [name for name, f in emitted if f.get("node") == "inner"] == ["node.start"]


async def test_two_parallel_interrupts_are_both_found() -> None:
    from sample_graphs import approvals

    translator, emitted, pending = await pause(approvals)
    assert sorted(p.node for p in pending) == ["ask_a", "ask_b"]
    assert len({p.id for p in pending}) == 2
    spans = started_spans(emitted)
    reported = translator.interrupt(pending)[0][1]["interrupts"]
    assert {i["node"]: i["span_id"] for i in reported} == {
        "ask_a": spans["ask_a"],
        "ask_b": spans["ask_b"],
    }


async def test_an_interrupt_in_a_subgraph_is_found_at_its_own_node() -> None:
    from sample_graphs import nested

    translator, emitted, pending = await pause(nested)
    (only,) = pending
    assert (only.node, only.path) == ("inner", ("outer",))
    reported = translator.interrupt(pending)[0][1]["interrupts"]
    assert reported[0]["span_id"] == started_spans(emitted)["inner"]
    assert reported[0]["path"] == ["outer"]


async def test_without_a_checkpointer_the_pause_is_still_seen() -> None:
    from sample_graphs import approvals

    translator, emitted, _ = await pause(approvals, checkpointer=False)
    # The graph's stream ends as if it had finished; only the __interrupt__ chunk tells.
    assert translator.interrupted
    assert "run.interrupt" not in names(emitted)


async def test_a_finished_graph_is_not_paused() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from app.graphs.demo import graph

    saved = graph.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "t"}}
    translator = Translator()
    async for raw in saved.astream_events(
        {"delay": 0, "tokens": 2, "token_delay": 0}, config, version="v2", stream_mode=STREAM_MODE
    ):
        translator.translate(raw, 0)
    assert not translator.interrupted
    assert pending_interrupts(await saved.aget_state(config, subgraphs=True)) is None


def test_raw_mode_passes_the_interrupt_chunk_and_drops_other_updates() -> None:
    raw = RawPassthrough()
    update = root_event("on_chain_stream", {"chunk": ("updates", {"node": {"x": 1}})})
    pause_chunk = root_event("on_chain_stream", {"chunk": ("updates", {"__interrupt__": ()})})
    assert raw.translate(update, 0) == []
    assert names(raw.translate(pause_chunk, 0)) == ["on_chain_stream"]
    assert raw.interrupted


@pytest.mark.parametrize(
    ("chunk", "text", "reasoning"),
    [
        pytest.param(
            AIMessageChunk(
                content=[{"type": "reasoning", "reasoning": "think", "index": 0}], id="m1"
            ),
            "",
            "think",
            id="standard-block",
        ),
        pytest.param(
            AIMessageChunk(
                content=[{"type": "thinking", "thinking": "deep", "index": 0}],
                id="m1",
                response_metadata={"model_provider": "anthropic"},
            ),
            "",
            "deep",
            id="anthropic-thinking",
        ),
        pytest.param(
            AIMessageChunk(content="", additional_kwargs={"reasoning_content": "rc"}, id="m1"),
            "",
            "rc",
            id="reasoning-content",
        ),
        pytest.param(
            AIMessageChunk(
                content=[
                    {"type": "reasoning", "reasoning": "so", "index": 0},
                    {"type": "text", "text": "hi", "index": 1},
                ],
                id="m1",
            ),
            "hi",
            "so",
            id="both",
        ),
    ],
)
def test_a_models_reasoning_rides_on_its_token(
    chunk: AIMessageChunk, text: str, reasoning: str
) -> None:
    raw = inner_event("on_chat_model_stream", "Model", "llm-1", data={"chunk": chunk})
    fields = {"node": "write", "span_id": "llm-1", "message_id": "m1", "text": text}
    assert started().translate(raw, 5) == [("token", {**fields, "reasoning": reasoning})]
