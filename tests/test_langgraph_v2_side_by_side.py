"""The same client script over LangGraph's thread streaming protocol (its "v2") against
LangGraph's own server (`langgraph dev`) and against the gateway, both serving
`tests/v2_graphs.py:agent`: the same channels, methods and data, once the ids, timestamps and
generated ids each server makes up are set aside.

Where LangGraph's server is wrong, each test says so, asserts what it does (as of
langgraph-api 0.16.7), and shows the gateway exact: most channels stay empty there (updates,
tools, custom, tasks, checkpoints), a node's `.astream()` model sends no tokens, a subgraph's
first state comes before it has started, the state comes again after the run has ended,
Last-Event-ID is ignored, and a run started through the older routes never shows on the thread's
stream."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TESTS, Server, start_server
from langgraph_sdk.stream.subscription import matches_subscription
from test_langgraph_side_by_side import GENERATED, comparable, langgraph_dev
from test_langgraph_v2 import (
    CHANNELS,
    FILTERS,
    GRAPH,
    HELLO,
    Event,
    Thread,
    answers_to,
    api_client,
    ask,
    assistant_of,
    bad_commands,
    is_terminal,
    messages_of,
    of,
    protocol_error,
    runs_of,
    said,
    sdk_conversation,
    subgraph_namespace,
    through,
)

# What LangGraph's server sends anything on, for this graph: the rest stay empty there.
THEIR_CHANNELS = {"values", "messages", "lifecycle", "input"}
BAD_STREAM_BODIES: list[Any] = [{}, {"channels": []}, {"channels": ["values", "bogus"]}]
# LangGraph's server runs a node's `ainvoke` model through langchain-core's protocol streaming,
# which makes its message v1: the content a list of text blocks, `output_version: v1` in its
# response metadata, and so a node that takes `str(reply.content)` (the graph's `draft`) gets
# that list's repr. The gateway leaves the graph's own message alone: plain text.
V1_TEXT = re.compile(r"^\[\{'type': 'text', 'text': '(?P<text>.*)', 'index': 0\}\]$")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with langgraph_dev(
        tmp_path_factory.mktemp("langgraph-dev-v2"), {"agent": f"{TESTS / 'v2_graphs.py'}:agent"}
    ) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv: Server = start_server(tmp_path_factory.mktemp("gateway-v2"), GRAPH, heartbeat_seconds=1)
    yield f"{srv.url}/langgraph"
    srv.stop()


def humans_in_last_values(events: list[Event]) -> int:
    states = of(events, "values", [])
    return sum(m["type"] == "human" for m in states[-1]["messages"]) if states else 0


async def script(base: str) -> dict[str, Any]:
    """Everything the client does, the same on both servers; what it saw."""
    seen: dict[str, Any] = {}
    async with api_client(base) as http:
        assistant_id = await assistant_of(http)
        thread = Thread(http, assistant_id)
        full = await thread.converse()
        seen["full"] = full
        last = full[-1]["event_id"]
        seen["again"] = await thread.read(until=through(last))
        seen["since"] = [
            await thread.read({"channels": CHANNELS, "since": event["seq"]}, until=through(last))
            for event in full[:-1]
        ]
        seen["last_event_id"] = [
            await thread.read(headers={"Last-Event-ID": str(event["seq"])}, until=through(last))
            for event in full[:-1:7]
        ]
        filters = [*FILTERS, {"channels": CHANNELS, "namespaces": [subgraph_namespace(full)]}]
        seen["filtered"] = []
        for body in filters:
            expected = [e for e in full if matches_subscription(e, body)]
            read = (
                await thread.read(body, until=through(expected[-1]["event_id"])) if expected else []
            )
            seen["filtered"].append((body, expected, read))
        (request,) = of(full, "input.requested")
        cases = bad_commands(request["interrupt_id"])
        seen["commands"] = list(zip(cases, await answers_to(thread, cases), strict=True))
        seen["bodies"] = []
        for body in BAD_STREAM_BODIES:
            response = await http.post(f"{thread.path}/stream/events", json=body)
            seen["bodies"].append(response.status_code)
        seen["legacy"] = await legacy_then_command(thread.http, assistant_id)
    seen["sdk"] = {
        transport: await sdk_conversation(base, transport) for transport in ("sse", "websocket")
    }
    return seen


async def legacy_then_command(http: Any, assistant_id: str) -> list[Event]:
    """A run through the older routes (`POST /threads/{id}/runs/stream`), then one by command on
    the same thread: the thread's stream, read until the second has ended."""
    thread = Thread(http, assistant_id)
    created = await http.post("/threads", json={"thread_id": thread.thread_id})
    assert created.status_code == 200, created.text
    async with http.stream(
        "POST",
        f"{thread.path}/runs/stream",
        json={"assistant_id": assistant_id, "input": ask(approve=False), "stream_mode": ["values"]},
    ) as response:
        assert response.status_code == 200
        await response.aread()
    again = {**HELLO, "messages": [{"type": "human", "content": "again"}], "approve": False}
    await thread.start(again)
    return await thread.read(until=lambda e: is_terminal(e[-1]) and humans_in_last_values(e) == 2)


@pytest.fixture(scope="module")
def theirs(reference: str) -> dict[str, Any]:
    return asyncio.run(script(reference))


@pytest.fixture(scope="module")
def ours(gateway: str) -> dict[str, Any]:
    return asyncio.run(script(gateway))


def plain(value: Any) -> Any:
    """LangGraph's v1 messages (see V1_TEXT) put back as the graph's own, plain text."""
    if isinstance(value, dict):
        if value.get("type") == "ai" and isinstance(value.get("content"), list):
            value = {**value, "content": "".join(b["text"] for b in value["content"])}
            if value.get("response_metadata") == {"output_version": "v1"}:
                del value["response_metadata"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str) and (match := V1_TEXT.match(value)):
        return match["text"]
    return value


def key(event: Event) -> tuple[str, list[str], Any]:
    """An event as both servers should send it: its method, its namespace and its data, with
    what each server makes up set aside."""
    params = event["params"]
    namespace = [GENERATED.sub("<id>", segment) for segment in params["namespace"]]
    return event["method"], namespace, comparable(params["data"])


def their_order_put_right(events: list[Event]) -> list[Event]:
    """LangGraph's events as they should be, each change first asserted to be needed.
    (1) A subgraph's first state comes before its `started` lifecycle: moved after it.
    (2) The state comes once more after an interrupted run's end, outside every run, the same
    as the one before the end: left out, with every other repeat (see `without_repeats`)."""
    events = list(events)
    review = subgraph_namespace(events)
    inside = [i for i, e in enumerate(events) if e["params"]["namespace"] == review]
    started = next(i for i in inside if events[i]["method"] == "lifecycle")
    assert events[inside[0]]["method"] == "values" and inside[0] < started
    events.insert(inside[0], events.pop(started))
    end = next(i for i, e in enumerate(events) if is_terminal(e))
    assert events[end]["params"]["data"]["event"] == "interrupted"
    after = events[end + 1]
    assert after["method"] == "values" and after["params"]["namespace"] == []
    before = [e for e in events[:end] if e["method"] == "values" and e["params"]["namespace"] == []]
    assert after["params"]["data"] == before[-1]["params"]["data"]
    return without_repeats(events)


MADE_UP = ("lifecycle", "input.requested")


def without_read_time(events: list[Event]) -> list[Event]:
    """LangGraph's events without the time of those it makes up when a stream is read (the
    lifecycle and the requests for input): the time of that read, not of the run."""
    return [
        {**e, "params": {k: v for k, v in e["params"].items() if k != "timestamp"}}
        if e["method"] in MADE_UP
        else e
        for e in events
    ]


def without_repeats(events: list[Event]) -> list[Event]:
    """Without a root state that is the same as the root state before it. LangGraph's server
    repeats it after an interrupted run's end and as the resumed run's first event (the
    gateway sends each state once); a repeat carries nothing."""
    kept: list[Event] = []
    last: Any = None
    for e in events:
        if e["method"] == "values" and e["params"]["namespace"] == []:
            if e["params"]["data"] == last:
                continue
            last = e["params"]["data"]
        kept.append(e)
    return kept


def ours_where_they_send(events: list[Event]) -> list[Event]:
    """The gateway's events on the channels LangGraph's server sends anything on, without the
    first run's root messages (the `think` node's `.astream()` model, which sends nothing
    there)."""
    first, _ = runs_of(events)
    thinking = {
        id(e) for e in first if e["method"] == "messages" and e["params"]["namespace"] == []
    }
    return [
        e
        for e in events
        if (e["method"] == "input.requested" or e["method"] in THEIR_CHANNELS)
        and id(e) not in thinking
    ]


def test_the_same_conversation_carries_the_same_events_where_both_send_them(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    their_events = [
        (method, namespace, plain(data))
        for method, namespace, data in map(key, their_order_put_right(theirs["full"]))
    ]
    our_events = [key(e) for e in without_repeats(ours_where_they_send(ours["full"]))]
    assert [e[:2] for e in our_events] == [e[:2] for e in their_events]
    differ = [
        f"event #{i}, {ours_[0]} in {ours_[1]}:\n  ours   {ours_[2]}\n  theirs {theirs_[2]}"
        for i, (ours_, theirs_) in enumerate(zip(our_events, their_events, strict=True))
        if ours_ != theirs_
    ]
    assert not differ, f"{len(differ)} of {len(our_events)} events differ:\n" + "\n".join(
        differ[:4]
    )


def test_langgraph_s_server_leaves_most_channels_empty_where_ours_carry_the_graph(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    def channels(events: list[Event]) -> set[str]:
        return {"input" if e["method"] == "input.requested" else e["method"] for e in events}

    # Theirs: nothing on updates, tools, custom, tasks or checkpoints for this graph.
    assert channels(theirs["full"]) == THEIR_CHANNELS
    assert channels(ours["full"]) == set(CHANNELS)
    # Theirs: the `think` node's model, driven with `.astream()`, sends no tokens; only the
    # models driven with `.ainvoke()` (the subgraph's draft, the answer) do.
    their_messages = messages_of(theirs["full"])
    assert [m["text"] for m in their_messages] == [said("draft hi"), said("answer hi")]
    our_messages = messages_of(ours["full"])
    assert [m["text"] for m in our_messages] == [said("hi"), said("draft hi"), said("answer hi")]
    for theirs_, ours_ in zip(their_messages, our_messages[1:], strict=True):
        assert ours_["events"] == theirs_["events"] and ours_["deltas"] == theirs_["deltas"]
    # Theirs: the v1 message of an `.ainvoke()` model, its repr in the graph's state; ours, the
    # graph's own text.
    (their_request,) = of(theirs["full"], "input.requested")
    (our_request,) = of(ours["full"], "input.requested")
    assert V1_TEXT.match(their_request["payload"]["draft"])["text"] == said("draft hi")
    assert our_request["payload"]["draft"] == said("draft hi")
    their_answer = of(theirs["full"], "values", [])[-1]["messages"][-1]
    assert their_answer["content"] == [{"type": "text", "text": said("answer hi"), "index": 0}]
    assert of(ours["full"], "values", [])[-1]["messages"][-1]["content"] == said("answer hi")


def test_the_end_of_a_run_is_its_last_event_here_and_not_there(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    def tail(events: list[Event], run: int) -> list[str]:
        """The last three of a run's root state, request for input and lifecycle events."""
        root = [
            e
            for e in runs_of(events)[run]
            if e["params"]["namespace"] == []
            and e["method"] in ("values", "input.requested", "lifecycle")
        ]
        return [
            e["params"]["data"]["event"] if e["method"] == "lifecycle" else e["method"]
            for e in root[-3:]
        ]

    # Ours: the state, then the request for input, then the end; nothing after the end.
    assert tail(ours["full"], 0) == ["values", "input.requested", "interrupted"]
    assert tail(ours["full"], 1)[-2:] == ["values", "completed"]
    assert _leftovers(ours["full"]) == []
    # Theirs: the interrupted run's state comes once more after its end, outside every run.
    leftovers = _leftovers(theirs["full"])
    assert [(e["method"], e["params"]["namespace"]) for e in leftovers] == [("values", [])]
    rest = [e for e in theirs["full"] if e not in leftovers]
    assert tail(rest, 0) == ["values", "input.requested", "interrupted"]
    assert tail(rest, 1)[-2:] == ["values", "completed"]


def _leftovers(events: list[Event]) -> list[Event]:
    """Events after a run's end and before the next run's start."""
    return [e for e in events if _after_end(events, e)]


def _after_end(events: list[Event], event: Event) -> bool:
    ended = False
    for e in events:
        if e["method"] == "lifecycle" and e["params"]["data"]["event"] == "running":
            ended = False
        if e is event:
            return ended
        if is_terminal(e):
            ended = True
    return False


def test_cursors_resume_exactly_here_and_last_event_id_is_ignored_there(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    # `since`: on a finished thread, exactly the rest on both; but there, the events it makes
    # up carry the time of each read (ours: every read the same, to the byte).
    full = ours["full"]
    assert ours["again"] == full
    for i, rest in enumerate(ours["since"]):
        assert rest == full[i + 1 :], i
    full = without_read_time(theirs["full"])
    assert without_read_time(theirs["again"]) == full and theirs["again"] != theirs["full"]
    for i, rest in enumerate(theirs["since"]):
        assert without_read_time(rest) == full[i + 1 :], i
    # Last-Event-ID: exactly the rest here; ignored there (the whole thread again).
    for i, rest in zip(range(0, len(ours["full"]) - 1, 7), ours["last_event_id"], strict=True):
        assert rest == ours["full"][i + 1 :], i
    assert all(without_read_time(rest) == full for rest in theirs["last_event_id"])


def test_filters_give_the_filtered_subsequence_on_both(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    for body, expected, read in ours["filtered"]:
        assert read == expected, body
    for body, expected, read in theirs["filtered"]:  # (their read times aside, as above)
        assert without_read_time(read) == without_read_time(expected), body
    # Here every filter has something to give; there, those on the empty channels have none.
    assert all(expected for _, expected, _ in ours["filtered"])
    empty = [body for body, expected, _ in theirs["filtered"] if not expected]
    assert empty == [{"channels": [c]} for c in CHANNELS if c not in THEIR_CHANNELS]


def test_bad_commands_get_the_same_errors_on_both(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    differ = []
    for (case, (their_status, their_answer)), (_, (status, answer)) in zip(
        theirs["commands"], ours["commands"], strict=True
    ):
        where, method, params, code = case
        # Theirs: each as the protocol says, but a missing assistant, reported as an
        # `unknown_error` wrapping an HTTP 422 (ours: `invalid_argument`).
        assert protocol_error(their_status, their_answer, code), (case, their_answer)
        if code is None:
            assert their_answer["error"] == "unknown_error"
            assert answer["error"] == "invalid_argument", answer
        elif not (
            protocol_error(status, answer, code) and answer["error"] == their_answer["error"]
        ):
            differ.append((where, method, params, "theirs", their_answer, "ours", status, answer))
    assert not differ, "\n".join(map(repr, differ))
    assert theirs["bodies"] == ours["bodies"] == [400] * len(BAD_STREAM_BODIES)


def test_a_run_of_the_older_routes_is_on_the_thread_stream_here_and_not_there(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    # Theirs: only the run started by command (its state has both questions).
    (their_run,) = runs_of(theirs["legacy"])
    assert humans_in_last_values(their_run) == 2
    assert their_run[-1]["params"]["data"]["event"] == "completed"
    # Ours: both, the first as fully as a run started by command.
    first, second = runs_of(ours["legacy"])
    assert [humans_in_last_values(first), humans_in_last_values(second)] == [1, 2]
    for run, asked in ((first, "hi"), (second, "again")):
        assert run[-1]["params"]["data"]["event"] == "completed"
        assert [m["text"] for m in messages_of(run)] == [
            said(asked),
            said(f"draft {asked}"),
            said(f"answer {asked}"),
        ]
        assert {e["method"] for e in run} >= {"updates", "tools", "custom", "tasks", "checkpoints"}


def test_the_sdk_sees_the_same_conversation_but_what_langgraph_leaves_out(
    theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    for transport in ("sse", "websocket"):
        their_view, our_view = theirs["sdk"][transport], ours["sdk"][transport]
        for name in ("answered", "decision", "types", "respond"):
            assert our_view[name] == their_view[name], (transport, name)
        assert our_view["answered"] == [said("answer hi")]
        assert [ns for ns, _ in our_view["interrupts"]] == [
            ns for ns, _ in their_view["interrupts"]
        ]
        # Theirs: no tokens from the `think` node's `.astream()` model and no tool calls.
        assert their_view["asked"] == [] and their_view["tools"] == []
        assert our_view["asked"] == [said("hi")]
        assert [name for _, name, _ in our_view["tools"]] == ["search"]
