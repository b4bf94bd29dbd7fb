"""The channels of LangGraph's thread protocol, derived from a run's log: one row per case."""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.dialects.langgraph.channels import (
    EVENT_SPAN,
    RUN_SPAN,
    ChannelEvent,
    Filter,
    RunChannels,
    StateAt,
    numbered,
    run_base,
)
from app.events import Event, encode_event

SUB = ["review:task-1"]


def log(*events: tuple[str, dict[str, Any]]) -> list[Event]:
    return [
        encode_event("run-1", seq, name, fields, 1_000 + seq, 65_536)
        for seq, (name, fields) in enumerate(events, start=1)
    ]


def items(events: list[Event]) -> list[Any]:
    channels = RunChannels("run-1", run_base(2))
    out: list[Any] = []
    for event in events:
        out += channels.items(event)[1]
    return out


def shown(out: list[Any]) -> list[tuple[Any, ...]]:
    """(method, namespace, data's event or the data) of each item; StateAt as it is."""
    return [
        item
        if isinstance(item, StateAt)
        else (
            item[0],
            item[1],
            item[2].get("event", item[2]) if isinstance(item[2], dict) else item[2],
        )
        for item in out
    ]


def test_tokens_become_one_message_in_content_blocks() -> None:
    out = items(
        log(
            ("token", {"node": "think", "span_id": "m", "message_id": "msg-1", "text": "On"}),
            ("token", {"node": "think", "span_id": "m", "message_id": "msg-1", "text": " it"}),
            (
                "llm.end",
                {
                    "node": "think",
                    "span_id": "m",
                    "message_id": "msg-1",
                    "usage": {"output_tokens": 2},
                },
            ),
        )
    )
    assert [item[2]["event"] for item in out] == [
        "message-start",
        "content-block-start",
        "content-block-delta",
        "content-block-delta",
        "content-block-finish",
        "message-finish",
    ]
    assert out[0][2] == {"event": "message-start", "role": "ai", "id": "msg-1"}
    assert [item[2]["delta"]["text"] for item in out if "delta" in item[2]] == ["On", " it"]
    assert out[4][2]["content"] == {"type": "text", "text": "On it"}
    assert out[5][2] == {"event": "message-finish", "usage": {"output_tokens": 2}}
    assert {item[3] for item in out} == {"think"}


def test_a_model_s_tool_calls_are_blocks_of_its_message() -> None:
    calls = [{"id": "call-1", "name": "search", "args": {"q": "x"}}]
    out = items(
        log(("llm.end", {"node": "n", "span_id": "m", "message_id": "msg-2", "tool_calls": calls}))
    )
    assert [item[2]["event"] for item in out] == [
        "message-start",
        "content-block-start",
        "content-block-finish",
        "message-finish",
    ]
    assert out[1][2]["content"] == {
        "type": "tool_call",
        "id": "call-1",
        "name": "search",
        "args": {"q": "x"},
    }


def test_a_model_that_streamed_nothing_gives_no_message_events() -> None:
    assert items(log(("llm.end", {"node": "n", "span_id": "m", "message_id": "msg-3"}))) == []


def test_a_subgraph_starts_in_its_namespace_and_ends_before_its_parent_node() -> None:
    out = items(
        log(
            ("run.start", {"graph": "agent"}),
            ("node.start", {"node": "review", "step": 3, "span_id": "s1", "task_id": "task-1"}),
            (
                "node.start",
                {"node": "draft", "step": 1, "span_id": "s2", "task_id": "t2", "ns": SUB},
            ),
            ("node.end", {"node": "draft", "span_id": "s2", "update": {"draft": "d"}, "ns": SUB}),
            ("node.end", {"node": "review", "span_id": "s1", "update": {"draft": "d"}}),
            ("run.end", {"status": "success"}),
        )
    )
    assert shown(out) == [
        ("lifecycle", [], "running"),
        StateAt([], -math.inf, 2),
        ("tasks", [], {"id": "task-1", "name": "review", "triggers": []}),
        ("lifecycle", SUB, "started"),
        StateAt(SUB, -math.inf, 0, ours=True),  # the subgraph starts afresh: its input
        ("tasks", SUB, {"id": "t2", "name": "draft", "triggers": []}),
        ("updates", SUB, {"node": "draft", "values": {"draft": "d"}}),
        (
            "tasks",
            SUB,
            {
                "id": "t2",
                "name": "draft",
                "error": None,
                "result": {"draft": "d"},
                "interrupts": [],
            },
        ),
        StateAt(SUB, 0, math.inf),
        ("lifecycle", SUB, "completed"),
        ("updates", [], {"node": "review", "values": {"draft": "d"}}),
        (
            "tasks",
            [],
            {
                "id": "task-1",
                "name": "review",
                "error": None,
                "result": {"draft": "d"},
                "interrupts": [],
            },
        ),
        StateAt([], 2, math.inf),
        ("lifecycle", [], "completed"),
    ]


def test_a_run_waits_only_for_the_checkpoints_it_writes() -> None:
    out = items(
        log(
            ("run.start", {"graph": "agent", "command": {"resume": {"i-1": True}}}),
            ("node.start", {"node": "approve", "step": 4, "span_id": "a", "task_id": "t4"}),
            ("node.end", {"node": "approve", "span_id": "a", "update": {}}),
            ("node.start", {"node": "answer", "step": 5, "span_id": "b", "task_id": "t5"}),
        )
    )
    states = [item for item in out if isinstance(item, StateAt)]
    # A resumed run: the state it goes on from, then step 3 (an earlier run's), then its own.
    assert states == [
        StateAt([], -math.inf, -math.inf, resumed=True),
        StateAt([], -math.inf, 3, ours=False),
        StateAt([], 3, 4, ours=True),
    ]


def test_a_failed_run_ends_failed_last_with_the_error_and_closes_what_is_open() -> None:
    out = items(
        log(
            ("run.start", {"graph": "agent"}),
            (
                "node.start",
                {"node": "draft", "step": 1, "span_id": "s2", "task_id": "t2", "ns": SUB},
            ),
            (
                "node.error",
                {
                    "node": "draft",
                    "span_id": "s2",
                    "error": {"type": "KeyError", "message": "'x'"},
                    "ns": SUB,
                },
            ),
            ("run.error", {"error": {"type": "KeyError", "message": "'x'"}}),
            ("run.end", {"status": "error"}),
        )
    )
    lifecycle = [item for item in out if not isinstance(item, StateAt) and item[0] == "lifecycle"]
    assert [(item[1], item[2]["event"]) for item in lifecycle] == [
        ([], "running"),
        (SUB, "started"),
        (SUB, "failed"),
        ([], "failed"),
    ]
    assert lifecycle[-1][2] == {"event": "failed", "graph_name": "agent", "error": "KeyError: 'x'"}
    assert out[-1] is lifecycle[-1]


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("success", "completed"), ("interrupted", "interrupted"), ("cancelled", "interrupted")],
)
def test_the_root_s_terminal_event_is_the_run_s_last(status: str, terminal: str) -> None:
    out = items(log(("run.start", {"graph": "g"}), ("run.end", {"status": status})))
    assert out[-1] == ("lifecycle", [], {"event": terminal, "graph_name": "g"}, None)


def test_an_interrupt_asks_for_input_after_the_state_it_paused_in() -> None:
    interrupts = [{"id": "i-1", "value": {"q": "ok?"}, "node": "approve"}]
    out = items(
        log(("run.interrupt", {"interrupts": interrupts}), ("run.end", {"status": "interrupted"}))
    )
    assert out[0] == StateAt([], -math.inf, math.inf)
    assert out[1] == (
        "input.requested",
        [],
        {"interrupt_id": "i-1", "payload": {"q": "ok?"}},
        "approve",
    )
    assert out[-1][2]["event"] == "interrupted"


def test_custom_events_keep_their_name_and_the_writer_s_have_none() -> None:
    out = items(
        log(
            ("custom", {"node": "plan", "name": "progress", "data": {"p": 1}}),
            ("custom", {"node": None, "name": "custom", "data": {"p": 2}, "ns": SUB}),
        )
    )
    assert out == [
        ("custom", [], {"name": "progress", "payload": {"p": 1}}, "plan"),
        ("custom", SUB, {"payload": {"p": 2}}, None),
    ]


def test_tools_start_and_finish_under_one_call_id() -> None:
    out = items(
        log(
            (
                "tool.start",
                {"node": "tools", "span_id": "t", "tool": "search", "input": {"q": "x"}},
            ),
            ("tool.end", {"node": "tools", "span_id": "t", "tool": "search", "output": "found"}),
            ("tool.start", {"node": "tools", "span_id": "u", "tool": "search", "input": {}}),
            (
                "tool.end",
                {
                    "node": "tools",
                    "span_id": "u",
                    "tool": "search",
                    "error": {"type": "ValueError", "message": "no"},
                },
            ),
        )
    )
    assert [item[2] for item in out] == [
        {"event": "tool-started", "tool_call_id": "t", "tool_name": "search", "input": {"q": "x"}},
        {"event": "tool-finished", "tool_call_id": "t", "output": "found"},
        {"event": "tool-started", "tool_call_id": "u", "tool_name": "search", "input": {}},
        {"event": "tool-error", "tool_call_id": "u", "message": "ValueError: no"},
    ]


def test_positions_are_stable_and_ordered() -> None:
    first = numbered("run-1", run_base(2), 7, 5, [("values", [], {}, None), ("tasks", [], {}, "n")])
    assert [(e.seq, e.event_id) for e in first] == [
        (2 * RUN_SPAN + 7 * EVENT_SPAN, "run-1:7:0"),
        (2 * RUN_SPAN + 7 * EVENT_SPAN + 1, "run-1:7:1"),
    ]
    envelope = first[1].envelope()
    assert envelope == {
        "type": "event",
        "event_id": "run-1:7:1",
        "seq": first[1].seq,
        "method": "tasks",
        "params": {"namespace": [], "timestamp": 5, "data": {}, "node": "n"},
    }
    assert first[1].frame().startswith(b"event: tasks\nid: %d\ndata: {" % first[1].seq)


def event(method: str, namespace: list[str], data: Any = None) -> ChannelEvent:
    return ChannelEvent(1, "e", method, namespace, 0, data if data is not None else {})


@pytest.mark.parametrize(
    ("wanted", "seen", "expected"),
    [
        pytest.param(
            Filter(frozenset({"messages"})), event("messages", SUB), True, id="any-namespace"
        ),
        pytest.param(
            Filter(frozenset({"values"})), event("messages", []), False, id="other-channel"
        ),
        pytest.param(
            Filter(frozenset({"input"})), event("input.requested", []), True, id="input-channel"
        ),
        pytest.param(
            Filter(frozenset({"custom:progress"})),
            event("custom", [], {"name": "progress", "payload": 1}),
            True,
            id="custom-by-name",
        ),
        pytest.param(
            Filter(frozenset({"custom:progress"})),
            event("custom", [], {"name": "other", "payload": 1}),
            False,
            id="custom-other-name",
        ),
        pytest.param(
            Filter(frozenset({"messages"}), ((),), 0), event("messages", SUB), False, id="root-only"
        ),
        pytest.param(
            Filter(frozenset({"messages"}), ((),), 1), event("messages", SUB), True, id="depth-1"
        ),
        pytest.param(
            Filter(frozenset({"messages"}), (("review",),)),
            event("messages", SUB),
            True,
            id="node-name",
        ),
        pytest.param(
            Filter(frozenset({"messages"}), (("review:other",),)),
            event("messages", SUB),
            False,
            id="other-task",
        ),
        pytest.param(
            Filter(frozenset({"messages"}), None, 0), event("messages", SUB), False, id="depth-0"
        ),
    ],
)
def test_filters_match_as_langgraph_s_server_does(
    wanted: Filter, seen: ChannelEvent, expected: bool
) -> None:
    assert wanted.matches(seen) is expected
