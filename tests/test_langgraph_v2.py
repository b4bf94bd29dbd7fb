"""LangGraph's thread streaming protocol (its "v2": commands to a thread, and one event stream
per thread over SSE or a WebSocket) on the gateway's /langgraph, serving `tests/v2_graphs.py:agent`
on both stores: raw HTTP and WebSocket clients, and LangGraph's own Python SDK
(`client.threads.stream`) over both of its transports.

Beyond what LangGraph's server does (tests/test_langgraph_v2_side_by_side.py shows where): `seq`
is the thread's, so `since` and Last-Event-ID resume exactly from any event of a finished or a
live run; a filtered read is the filtered subsequence of the full one; every channel carries the
graph's events; runs started through any of the gateway's APIs appear on the thread's stream;
and all of it holds across processes over Redis."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from conftest import PostgresServer, RedisServer, Server, Spawn, start_server
from httpx_sse import aconnect_sse
from langchain_core.messages import HumanMessage
from langgraph_sdk import get_client
from langgraph_sdk.stream.subscription import matches_subscription
from proxy import CuttableProxy
from sse import sse_check
from websockets.asyncio.client import connect as ws_connect

from app.graphs.demo import DemoChatModel

GRAPH = "v2_graphs:agent"
CHANNELS = [
    "values",
    "updates",
    "messages",
    "tools",
    "custom",
    "lifecycle",
    "input",
    "tasks",
    "checkpoints",
]
TOKENS = 12
HELLO = {"messages": [{"type": "human", "content": "hi"}], "tokens": TOKENS, "token_delay": 0.01}
# Long enough a run to be read, cut and resumed while it is live (about 180 tokens).
SLOW = {"tokens": 60, "token_delay": 0.02}
TERMINAL = {"completed", "failed", "interrupted"}
# The bound of every wait: a hang fails, a slow machine does not.
SECONDS = 60

Event = dict[str, Any]
Until = Callable[[list[Event]], bool]


def ask(approve: bool = True, **more: Any) -> dict[str, Any]:
    """The agent's input: `approve` makes its `approve` node ask (interrupt) before answering."""
    return {**HELLO, "approve": approve, **more}


def said(prompt: str, tokens: int = TOKENS) -> str:
    """What the demo model answers to `prompt`, whole."""
    model = DemoChatModel(tokens=tokens, token_delay=0)
    return "".join(model._text([HumanMessage(content=prompt)]))


def is_terminal(event: Event) -> bool:
    """The end of a run: its root lifecycle completed, failed or interrupted."""
    params = event["params"]
    return (
        event["method"] == "lifecycle"
        and params["namespace"] == []
        and params["data"]["event"] in TERMINAL
    )


def ends(count: int = 1) -> Until:
    """Until `count` runs have ended."""
    return lambda events: sum(map(is_terminal, events)) >= count


def through(event_id: str) -> Until:
    """Until the event `event_id`."""
    return lambda events: events[-1]["event_id"] == event_id


def never(events: list[Event]) -> bool:
    return False


async def read_events(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    until: Until,
    headers: dict[str, str] | None = None,
    into: list[Event] | None = None,
    on_event: Callable[[list[Event]], None] | None = None,
) -> list[Event]:
    """The envelopes of one SSE connection until `until` says so (the stream never ends by
    itself: it follows the thread's next runs), each checked against its SSE fields."""
    events: list[Event] = [] if into is None else into
    try:
        async with asyncio.timeout(SECONDS):
            async with aconnect_sse(http, "POST", url, json=body, headers=headers or {}) as source:
                response = source.response
                assert response.status_code == 200, (await response.aread()).decode()
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    event = json.loads(sse.data)
                    assert sse.event == event["method"], sse
                    assert sse.id == str(event["seq"]), sse
                    events.append(event)
                    if on_event is not None:
                        on_event(events)
                    if until(events):
                        return events
    except TimeoutError:
        raise AssertionError(
            f"{url} {body}: no end in {SECONDS} s after {len(events)} events: {events[-1:]}"
        ) from None
    raise AssertionError(f"{url} {body}: the server ended the stream after {len(events)} events")


@dataclass
class Thread:
    """One thread of a LangGraph API: its commands, and reads of its event stream."""

    http: httpx.AsyncClient  # its base URL is the API's (…/langgraph on the gateway)
    assistant_id: str
    thread_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def path(self) -> str:
        return f"/threads/{self.thread_id}"

    async def command(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        command_id = next(self.ids)
        response = await self.http.post(
            f"{self.path}/commands", json={"id": command_id, "method": method, "params": params}
        )
        assert response.status_code == 200, (method, params, response.status_code, response.text)
        answer = response.json()
        assert answer["id"] == command_id and answer["type"] in ("success", "error"), answer
        return answer

    async def start(self, input_: dict[str, Any], **params: Any) -> str:
        answer = await self.command(
            "run.start", {"assistant_id": self.assistant_id, "input": input_, **params}
        )
        assert answer["type"] == "success", answer
        return answer["result"]["run_id"]

    async def respond(self, request: Event, response: Any) -> dict[str, Any]:
        """Answers an `input.requested` event."""
        return await self.command(
            "input.respond",
            {
                "namespace": request["params"]["namespace"],
                "interrupt_id": request["params"]["data"]["interrupt_id"],
                "response": response,
            },
        )

    async def read(
        self,
        body: dict[str, Any] | None = None,
        *,
        until: Until = never,
        headers: dict[str, str] | None = None,
        into: list[Event] | None = None,
        on_event: Callable[[list[Event]], None] | None = None,
    ) -> list[Event]:
        return await read_events(
            self.http,
            f"{self.path}/stream/events",
            body or {"channels": CHANNELS},
            until=until,
            headers=headers,
            into=into,
            on_event=on_event,
        )

    async def converse(self, response: Any = "yes", **more: Any) -> list[Event]:
        """A run that asks for input and the run its answer starts, read on one stream from
        before the first starts: every event of the thread's two runs."""
        events: list[Event] = []
        answers: list[asyncio.Future[dict[str, Any]]] = []

        def answer(seen: list[Event]) -> None:
            if seen[-1]["method"] == "input.requested":
                answers.append(asyncio.ensure_future(self.respond(seen[-1], response)))

        reader = asyncio.create_task(self.read(until=ends(2), into=events, on_event=answer))
        await self.start(ask(approve=True, **more))
        await reader
        (responded,) = await asyncio.gather(*answers)
        assert responded["type"] == "success" and responded["result"] == {}, responded
        return events


async def assistant_of(http: httpx.AsyncClient) -> str:
    found = await http.post("/assistants/search", json={})
    assert found.status_code == 200, found.text
    (assistant,) = found.json()
    assert assistant["graph_id"] == "agent"
    return assistant["assistant_id"]


def api_client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, connect=5))


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, store_url: str, checkpointer_url: str
) -> Iterator[Server]:
    """The agent graph on the store the tests run over (and its checkpointer)."""
    srv = start_server(
        tmp_path_factory.mktemp("v2"),
        GRAPH,
        heartbeat_seconds=1,
        store_url=store_url,
        checkpointer=checkpointer_url,
    )
    yield srv
    srv.stop()


@pytest.fixture
async def http(gateway: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(f"{gateway.url}/langgraph") as client:
        yield client


@pytest.fixture
async def thread(http: httpx.AsyncClient) -> Thread:
    return Thread(http, await assistant_of(http))


# ---------------------------------------------------------------------------------------------
# What a client reads: envelopes, messages token by token, every channel.
# ---------------------------------------------------------------------------------------------


def messages_of(events: list[Event]) -> list[dict[str, Any]]:
    """Each message of the `messages` channel: where, what came, and its text put together."""
    open_: dict[tuple[str, ...], dict[str, Any]] = {}
    found: list[dict[str, Any]] = []
    for event in events:
        if event["method"] != "messages":
            continue
        params, namespace = event["params"], tuple(event["params"]["namespace"])
        data = params["data"]
        if data["event"] == "message-start":
            assert namespace not in open_, f"two messages at once in {namespace}"
            open_[namespace] = {
                "namespace": list(namespace),
                "node": params.get("node"),
                "id": data["id"],
                "role": data["role"],
                "events": [],
                "deltas": [],
                "text": None,
            }
            found.append(open_[namespace])
        message = open_[namespace]
        message["events"].append(data["event"])
        if data["event"] == "content-block-start":
            assert data["index"] == 0 and data["content"] == {"type": "text", "text": ""}, data
        elif data["event"] == "content-block-delta":
            assert data["delta"]["type"] == "text-delta", data
            message["deltas"].append(data["delta"]["text"])
        elif data["event"] == "content-block-finish":
            assert data["content"]["type"] == "text", data
            message["text"] = data["content"]["text"]
        elif data["event"] == "message-finish":
            message["usage"] = data.get("usage")
            del open_[namespace]
    assert not open_, f"messages left unfinished: {list(open_)}"
    return found


def assert_token_by_token(message: dict[str, Any], text: str, tokens: int = TOKENS) -> None:
    assert message["role"] == "ai" and message["id"], message
    assert message["events"] == [
        "message-start",
        "content-block-start",
        *["content-block-delta"] * tokens,
        "content-block-finish",
        "message-finish",
    ], message["events"]
    assert all(message["deltas"]) and "".join(message["deltas"]) == message["text"] == text
    assert message["usage"]["output_tokens"] == tokens, message["usage"]


def assert_envelopes(events: list[Event]) -> None:
    """Every envelope's shape; seqs increase and event ids are unique along the thread."""
    for event in events:
        assert event["type"] == "event", event
        assert isinstance(event["event_id"], str) and event["event_id"], event
        assert isinstance(event["seq"], int) and not isinstance(event["seq"], bool), event
        params = event["params"]
        assert isinstance(params["namespace"], list), event
        assert all(isinstance(segment, str) for segment in params["namespace"]), event
        assert isinstance(params["timestamp"], int), event
        assert "data" in params, event
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs)), "seq is not strictly increasing"
    assert len({event["event_id"] for event in events}) == len(events), "an event id repeats"


def runs_of(events: list[Event]) -> list[list[Event]]:
    """The thread's events cut into its runs: each from its root `running` to its end, with
    nothing between one run's end and the next one's start."""
    runs: list[list[Event]] = []
    current: list[Event] | None = None
    for event in events:
        params = event["params"]
        starts = (
            event["method"] == "lifecycle"
            and params["namespace"] == []
            and params["data"]["event"] == "running"
        )
        if starts:
            assert current is None, f"a run started before the last ended: {event}"
            current = []
            runs.append(current)
        assert current is not None, f"an event outside every run: {event}"
        current.append(event)
        if is_terminal(event):
            current = None
    return runs


def of(events: list[Event], method: str, namespace: list[str] | None = None) -> list[Any]:
    """The data of the events of one method (in one namespace, when given)."""
    return [
        e["params"]["data"]
        for e in events
        if e["method"] == method and (namespace is None or e["params"]["namespace"] == namespace)
    ]


def subgraph_namespace(events: list[Event]) -> list[str]:
    (namespace,) = {tuple(e["params"]["namespace"]) for e in events if e["params"]["namespace"]}
    return list(namespace)


async def test_a_run_started_by_command_streams_token_by_token_and_ends_completed(
    thread: Thread,
) -> None:
    reader = asyncio.create_task(thread.read(until=ends(1)))
    run_id = await thread.start(ask(approve=False))
    events = await reader
    assert run_id
    assert_envelopes(events)
    (run,) = runs_of(events)
    assert run[0]["params"]["data"] == {"event": "running", "graph_name": "agent"}
    assert run[-1]["params"]["data"] == {"event": "completed", "graph_name": "agent"}
    review = subgraph_namespace(events)
    think, draft, answer = messages_of(events)
    assert think["namespace"] == [] and answer["namespace"] == [] and draft["namespace"] == review
    assert_token_by_token(think, said("hi"))
    assert_token_by_token(draft, said("draft hi"))
    assert_token_by_token(answer, said("answer hi"))
    state = (await thread.http.get(f"{thread.path}/state")).json()
    ai = [m for m in state["values"]["messages"] if m["type"] == "ai"]
    assert [m["id"] for m in ai] == [think["id"], answer["id"]]
    assert state["values"]["draft"] == said("draft hi")
    status = (await thread.http.get(f"/threads/{thread.thread_id}/runs/{run_id}")).json()
    assert status["status"] == "success"


async def test_every_channel_carries_the_graph_s_events(thread: Thread) -> None:
    events = await thread.converse()
    assert_envelopes(events)
    asked, answered = runs_of(events)
    review = subgraph_namespace(events)
    (name,) = {segment.partition(":")[0] for segment in review}
    assert name == "review" and len(review) == 1
    # tasks: each node's start and its result, under the id the subgraph's namespace names.
    starts = [t for t in of(asked, "tasks", []) if "result" not in t]
    assert [t["name"] for t in starts] == ["think", "tools", "review", "approve"]
    (review_task,) = [t for t in starts if t["name"] == "review"]
    assert review == [f"review:{review_task['id']}"]
    results = {t["id"]: t for t in of(asked, "tasks", []) if "result" in t}
    assert [results[t["id"]]["name"] for t in starts if t["id"] in results] == [
        "think",
        "tools",
        "review",
    ]
    assert [t["name"] for t in of(asked, "tasks", review) if "result" not in t] == ["draft"]
    assert [t["name"] for t in of(answered, "tasks", []) if "result" in t] == ["approve", "answer"]
    # updates: what each node wrote, by node.
    nodes = [u["node"] for u in of(asked, "updates", []) if not u["node"].startswith("__")]
    assert nodes == ["think", "tools", "review"]
    assert [u["node"] for u in of(answered, "updates", [])] == ["approve", "answer"]
    assert of(answered, "updates", [])[0]["values"] == {"decision": "yes"}
    assert of(asked, "updates", review) == [
        {"node": "draft", "values": {"draft": said("draft hi")}}
    ]
    # custom: what the node's stream writer wrote.
    assert [c["payload"] for c in of(asked, "custom")] == [
        {"phase": "thinking"},
        {"phase": "calling search"},
    ]
    # messages: the three models, token by token, where they ran.
    think, draft, answer = messages_of(events)
    assert_token_by_token(think, said("hi"))
    assert draft["namespace"] == review
    assert_token_by_token(draft, said("draft hi"))
    assert_token_by_token(answer, said("answer hi"))
    assert messages_of(answered) == [answer]
    # lifecycle: each run and the subgraph, started and ended.
    assert [
        (e["params"]["namespace"], e["params"]["data"]["event"])
        for e in events
        if e["method"] == "lifecycle"
    ] == [
        ([], "running"),
        (review, "started"),
        (review, "completed"),
        ([], "interrupted"),
        ([], "running"),
        ([], "completed"),
    ]
    assert {d["graph_name"] for d in of(events, "lifecycle", review)} == {"review"}
    # input: the interrupt's question, with the id the thread keeps for it.
    (request,) = of(events, "input.requested")
    assert request["payload"] == {"question": "Send the answer?", "draft": said("draft hi")}
    history = (await thread.http.post(f"{thread.path}/history", json={"limit": 20})).json()
    asked_ids = {i["id"] for h in history for t in h["tasks"] for i in t.get("interrupts", [])}
    assert request["interrupt_id"] in asked_ids
    # checkpoints: one per step, the last the thread's own.
    checkpoints = of(events, "checkpoints", [])
    assert checkpoints[0]["source"] == "input" and checkpoints[0]["step"] == -1
    steps = [c["step"] for c in checkpoints]
    assert steps == sorted(steps) and len(set(steps)) >= 5
    for before, after in itertools.pairwise(of(asked, "checkpoints", [])):
        assert after["parent_id"] == before["id"]
    state = (await thread.http.get(f"{thread.path}/state")).json()
    assert checkpoints[-1]["id"] == state["checkpoint"]["checkpoint_id"]
    assert of(events, "checkpoints", review), "the subgraph's checkpoints"
    # values: the state after each step, the last the thread's.
    final = of(answered, "values", [])[-1]
    assert final["decision"] == "yes"
    assert [m["type"] for m in final["messages"]] == ["human", "ai", "tool", "ai"]
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai", "tool", "ai"]
    assert of(asked, "values", review), "the subgraph's values"
    # tools: the ToolNode's call, under the id of the model's tool call.
    started, finished = of(asked, "tools", [])
    assert started == {
        "event": "tool-started",
        "tool_call_id": "call-search-1",
        "tool_name": "search",
        "input": {"query": "hi"},
    }
    assert finished["event"] == "tool-finished" and finished["tool_call_id"] == "call-search-1"
    output = finished["output"]
    assert (output if isinstance(output, str) else output["content"]) == "found: hi"


async def test_the_root_lifecycle_end_is_the_last_root_event_of_its_run(thread: Thread) -> None:
    events = await thread.converse()
    for run, end in zip(runs_of(events), ("interrupted", "completed"), strict=True):
        assert run[-1]["params"]["data"]["event"] == end, run[-1]
        root = [e for e in run if e["params"]["namespace"] == []]
        assert root[-1] is run[-1]
        methods = [e["method"] for e in root]
        # The final state comes before the end, and nothing of the run after it.
        assert "values" in methods
        last_values = len(methods) - 1 - methods[::-1].index("values")
        assert all(m != "values" for m in methods[last_values + 1 :])
        if end == "interrupted":
            assert methods.index("input.requested") < len(methods) - 1
            assert "__interrupt__" not in root[last_values]["params"]["data"]


async def test_an_interrupt_asks_for_input_and_its_answer_resumes_on_the_same_stream(
    thread: Thread,
) -> None:
    events: list[Event] = []
    reader = asyncio.create_task(thread.read(until=ends(2), into=events))
    await thread.start(ask(approve=True))
    while not any(map(is_terminal, events)):
        assert not reader.done(), reader
        await asyncio.sleep(0.02)
    (request,) = [e for e in events if e["method"] == "input.requested"]
    assert request["params"]["namespace"] == []
    detail = (await thread.http.get(thread.path)).json()
    assert detail["status"] == "interrupted"
    pending = [i["id"] for interrupts in detail["interrupts"].values() for i in interrupts]
    assert pending == [request["params"]["data"]["interrupt_id"]]
    answer = await thread.respond(request, "yes")
    assert answer["type"] == "success" and answer["result"] == {}, answer
    await asyncio.wait_for(reader, SECONDS)
    _asked, answered = runs_of(events)
    assert answered[-1]["params"]["data"]["event"] == "completed"
    assert of(answered, "values", [])[-1]["decision"] == "yes"
    assert (await thread.http.get(thread.path)).json()["status"] == "idle"
    # The interrupt was answered: answering it again is an error, at once.
    again = await thread.respond(request, "again")
    assert again["type"] == "error" and again["error"] == "no_such_interrupt", again


async def test_input_respond_takes_a_list_of_responses(thread: Thread) -> None:
    events: list[Event] = []
    reader = asyncio.create_task(thread.read(until=ends(2), into=events))
    await thread.start(ask(approve=True))
    while not any(e["method"] == "input.requested" for e in events):
        assert not reader.done(), reader
        await asyncio.sleep(0.02)
    (request,) = [e for e in events if e["method"] == "input.requested"]
    response = {"namespace": [], "interrupt_id": request["params"]["data"]["interrupt_id"]}
    answer = await thread.command(
        "input.respond", {"responses": [{**response, "response": {"ok": True}}]}
    )
    assert answer["type"] == "success", answer
    await asyncio.wait_for(reader, SECONDS)
    assert of(runs_of(events)[1], "values", [])[-1]["decision"] == {"ok": True}


async def test_a_second_run_on_the_thread_continues_its_stream(thread: Thread) -> None:
    events: list[Event] = []
    reader = asyncio.create_task(thread.read(until=ends(2), into=events))
    await thread.start(ask(approve=False))
    while not any(map(is_terminal, events)):
        assert not reader.done(), reader
        await asyncio.sleep(0.02)
    again = {"messages": [{"type": "human", "content": "again"}], "approve": False}
    await thread.start({**HELLO, **again})
    await asyncio.wait_for(reader, SECONDS)
    assert_envelopes(events)
    first, second = runs_of(events)
    assert second[0]["seq"] > first[-1]["seq"]
    assert second[-1]["params"]["data"]["event"] == "completed"
    # The second run starts from the thread's state: it sees the first conversation.
    humans = [
        m["content"] for m in of(second, "values", [])[-1]["messages"] if m["type"] == "human"
    ]
    assert humans == ["hi", "again"]
    think, _draft, answer = messages_of(second)
    assert_token_by_token(think, said("again"))
    assert_token_by_token(answer, said("answer again"))
    # A read of the thread afterwards is the same two runs.
    assert await thread.read(until=through(events[-1]["event_id"])) == events


async def test_a_stream_opened_before_its_thread_exists_follows_its_first_run(
    thread: Thread,
) -> None:
    assert (await thread.http.get(thread.path)).status_code == 404
    events: list[Event] = []
    reader = asyncio.create_task(thread.read(until=ends(1), into=events))
    await asyncio.sleep(0.3)  # the stream is open (this is no wait for an outcome)
    assert not reader.done()
    await thread.start(ask(approve=False))
    await asyncio.wait_for(reader, SECONDS)
    (run,) = runs_of(events)
    assert run[-1]["params"]["data"]["event"] == "completed"
    assert await thread.read(until=through(events[-1]["event_id"])) == events


# ---------------------------------------------------------------------------------------------
# Cursors, filters and late observers: one durable sequence per thread.
# ---------------------------------------------------------------------------------------------


async def in_batches(reads: list[Any], size: int = 12) -> list[Any]:
    done: list[Any] = []
    for start in range(0, len(reads), size):
        done += await asyncio.gather(*reads[start : start + size])
    return done


async def test_since_and_last_event_id_resume_a_finished_thread_from_every_event(
    thread: Thread,
) -> None:
    full = await thread.converse()
    last = full[-1]["event_id"]
    # A second full read is the same: the same seqs, ids and data.
    assert await thread.read(until=through(last)) == full
    assert await thread.read({"channels": CHANNELS, "since": 0}, until=through(last)) == full
    positions = range(len(full) - 1)
    by_since = await in_batches(
        [
            thread.read({"channels": CHANNELS, "since": full[i]["seq"]}, until=through(last))
            for i in positions
        ]
    )
    by_header = await in_batches(
        [
            thread.read(headers={"Last-Event-ID": str(full[i]["seq"])}, until=through(last))
            for i in positions
        ]
    )
    for i in positions:
        assert by_since[i] == full[i + 1 :], f"since {full[i]['seq']} (event #{i})"
        assert by_header[i] == full[i + 1 :], f"Last-Event-ID {full[i]['seq']} (event #{i})"
    # A cursor between two events' seqs: the events after it.
    for i in (0, len(full) // 2, len(full) - 2):
        between = (full[i]["seq"] + full[i + 1]["seq"]) // 2
        body = {"channels": CHANNELS, "since": between}
        assert await thread.read(body, until=through(last)) == full[i + 1 :], between
    # From the last event: nothing of the past, and the thread's next run as it comes.
    after_since = asyncio.create_task(
        thread.read({"channels": CHANNELS, "since": full[-1]["seq"]}, until=ends(1))
    )
    after_header = asyncio.create_task(
        thread.read(headers={"Last-Event-ID": str(full[-1]["seq"])}, until=ends(1))
    )
    await asyncio.sleep(0.3)  # both are open before the run starts (no wait for an outcome)
    await thread.start(ask(approve=False))
    third = await asyncio.wait_for(after_since, SECONDS)
    assert await asyncio.wait_for(after_header, SECONDS) == third
    (run,) = runs_of(third)
    assert run[0]["seq"] > full[-1]["seq"] and run[-1]["params"]["data"]["event"] == "completed"
    everything = await thread.read(until=through(third[-1]["event_id"]))
    assert everything == full + third


async def test_since_and_last_event_id_resume_a_live_run_exactly(thread: Thread) -> None:
    whole: list[Event] = []
    resumed: list[tuple[int, asyncio.Task[list[Event]]]] = []

    def resume_here(seen: list[Event]) -> None:
        # Every sixth event, before the reader has seen the run's end: while the run is live.
        if len(seen) % 6 or is_terminal(seen[-1]):
            return
        cursor = seen[-1]["seq"]
        by_since = thread.read({"channels": CHANNELS, "since": cursor}, until=ends(1))
        by_header = thread.read(headers={"Last-Event-ID": str(cursor)}, until=ends(1))
        resumed.extend((len(seen), asyncio.create_task(read)) for read in (by_since, by_header))

    reader = asyncio.create_task(thread.read(until=ends(1), into=whole, on_event=resume_here))
    await thread.start(ask(approve=False, **SLOW))
    await asyncio.wait_for(reader, SECONDS)
    assert len(resumed) >= 2 * (len(whole) // 6) - 2
    for position, task in resumed:
        rest = await asyncio.wait_for(task, SECONDS)
        assert rest == whole[position:], f"resumed after event #{position}"


FILTERS: list[dict[str, Any]] = [
    *({"channels": [channel]} for channel in CHANNELS),
    {"channels": ["messages", "tools"]},
    {"channels": ["values", "lifecycle", "input"]},
    {"channels": ["custom:phase", "lifecycle"]},
    {"channels": CHANNELS, "namespaces": [[]], "depth": 0},
    {"channels": CHANNELS, "namespaces": [[]]},
    {"channels": CHANNELS, "namespaces": [[]], "depth": 1},
    {"channels": CHANNELS, "namespaces": [["review"]]},
    {"channels": CHANNELS, "namespaces": [["review"]], "depth": 0},
    {"channels": ["messages"], "namespaces": [["review"]]},
    {"channels": ["messages", "lifecycle"], "namespaces": [[]], "depth": 0},
]


async def test_a_filtered_read_is_the_filtered_subsequence_of_the_full_read(
    thread: Thread,
) -> None:
    full = await thread.converse()
    review = subgraph_namespace(full)
    filters = [
        *FILTERS,
        {"channels": CHANNELS, "namespaces": [review]},
        {"channels": ["values", "messages"], "namespaces": [review], "depth": 0},
        {"channels": ["values"], "since": full[len(full) // 2]["seq"]},
        {"channels": ["messages"], "namespaces": [[]], "depth": 0, "since": full[20]["seq"]},
    ]
    expected = [
        [
            e
            for e in full
            if matches_subscription(e, body)  # the SDK's own filter
            and e["seq"] > body.get("since", -1)
        ]
        for body in filters
    ]
    for body, subsequence in zip(filters, expected, strict=True):
        assert subsequence, f"the conversation has nothing for {body}"
    reads = await in_batches(
        [
            thread.read(body, until=through(subsequence[-1]["event_id"]))
            for body, subsequence in zip(filters, expected, strict=True)
        ]
    )
    for body, subsequence, read in zip(filters, expected, reads, strict=True):
        assert read == subsequence, body


async def test_a_late_observer_gets_the_history_then_the_live_run(thread: Thread) -> None:
    first: list[Event] = []
    late: list[asyncio.Task[list[Event]]] = []

    def join_late(seen: list[Event]) -> None:
        if len(seen) in (10, 40):  # two observers join while the run is live
            late.append(asyncio.create_task(thread.read(until=ends(1))))

    reader = asyncio.create_task(thread.read(until=ends(1), into=first, on_event=join_late))
    await thread.start(ask(approve=False, **SLOW))
    await asyncio.wait_for(reader, SECONDS)
    assert len(late) == 2
    for task in late:
        assert await asyncio.wait_for(task, SECONDS) == first
    # And after the run: its history, the same.
    assert await thread.read(until=through(first[-1]["event_id"])) == first


async def test_a_late_observer_of_a_second_run_gets_both(thread: Thread) -> None:
    await thread.start(ask(approve=False))
    one = await thread.read(until=ends(1))
    whole: list[Event] = []
    late: list[asyncio.Task[list[Event]]] = []

    def join_late(seen: list[Event]) -> None:
        if len(seen) == len(one) + 15:
            late.append(asyncio.create_task(thread.read(until=ends(2))))

    reader = asyncio.create_task(thread.read(until=ends(2), into=whole, on_event=join_late))
    await thread.start(ask(approve=False, **SLOW))
    await asyncio.wait_for(reader, SECONDS)
    assert whole[: len(one)] == one
    (task,) = late
    assert await asyncio.wait_for(task, SECONDS) == whole


# ---------------------------------------------------------------------------------------------
# Errors: bad commands, bad bodies, unknown threads, at once.
# ---------------------------------------------------------------------------------------------


# (where: the thread or one unknown; method; params; the protocol's code, None for "no
# protocol code names it": a missing assistant.)
Case = tuple[str, str, dict[str, Any], str | None]


def bad_commands(interrupt_id: str) -> list[Case]:
    """Commands that cannot be carried out, for a thread whose interrupt `interrupt_id` was
    answered, and for a thread that does not exist."""
    nowhere = {"namespace": [], "interrupt_id": "no-such-interrupt", "response": 1}
    return [
        ("thread", "no.such.method", {}, "unknown_command"),
        ("thread", "run.start", {}, "invalid_argument"),
        ("thread", "run.start", {"assistant_id": "no-such-assistant", "input": {}}, None),
        ("thread", "input.respond", {}, "invalid_argument"),
        ("thread", "input.respond", nowhere, "no_such_interrupt"),
        ("thread", "input.respond", {**nowhere, "interrupt_id": interrupt_id}, "no_such_interrupt"),
        ("thread", "subscription.subscribe", {"channels": ["bogus"]}, "invalid_argument"),
        ("thread", "subscription.subscribe", {"channels": []}, "invalid_argument"),
        ("thread", "subscription.unsubscribe", {"subscription_id": "nope"}, "no_such_subscription"),
        ("thread", "subscription.reconnect", {"run_id": str(uuid.uuid4())}, "no_such_run"),
        ("unknown", "input.respond", nowhere, "no_such_run"),
        ("unknown", "agent.getTree", {}, "no_such_run"),
        ("unknown", "subscription.reconnect", {"run_id": str(uuid.uuid4())}, "no_such_run"),
    ]


async def answers_to(thread: Thread, cases: list[Case]) -> list[tuple[int, Any]]:
    """Each case's HTTP status and body, each on a connection of its own (a server that fails
    one must not take the next with it), each bounded in time."""
    unknown = Thread(thread.http, thread.assistant_id)
    answers = []
    for where, method, params, _ in cases:
        target = thread if where == "thread" else unknown
        async with asyncio.timeout(SECONDS), api_client(str(thread.http.base_url)) as fresh:
            response = await fresh.post(
                f"{target.path}/commands", json={"id": 9, "method": method, "params": params}
            )
        try:
            answers.append((response.status_code, response.json()))
        except ValueError:
            answers.append((response.status_code, response.text))
    return answers


def protocol_error(status: int, answer: Any, code: str | None) -> bool:
    codes = ("invalid_argument", "unknown_error") if code is None else (code,)
    return (
        status == 200
        and isinstance(answer, dict)
        and answer["type"] == "error"
        and answer["id"] == 9
        and answer["error"] in codes
        and bool(answer["message"])
    )


async def test_bad_commands_get_protocol_errors_at_once(thread: Thread) -> None:
    events = await thread.converse()
    (request,) = of(events, "input.requested")
    cases = bad_commands(request["interrupt_id"])
    answers = await answers_to(thread, cases)
    wrong = [
        (where, method, params, "wanted", code, "got", status, answer)
        for (where, method, params, code), (status, answer) in zip(cases, answers, strict=True)
        if not protocol_error(status, answer, code)
    ]
    assert not wrong, "\n".join(map(repr, wrong))
    # The thread, untouched by all of it, still reads the same.
    assert await thread.read(until=through(events[-1]["event_id"])) == events


@pytest.mark.parametrize(
    "body",
    [
        {"method": "run.start", "params": {}},
        {"id": "1", "method": "run.start", "params": {}},
        {"id": 1, "params": {}},
        {"id": 1, "method": 7},
        [1, 2],
        "text",
    ],
)
async def test_a_body_that_is_no_command_envelope_is_a_400(thread: Thread, body: Any) -> None:
    response = await thread.http.post(f"{thread.path}/commands", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["type"] == "error" and answer["error"] == "invalid_argument", answer
    given = body.get("id") if isinstance(body, dict) else None
    # An integer id comes back, so that a client can tell which command it was.
    assert answer["id"] == given if isinstance(given, int) else answer["id"] in (None, given)


async def test_a_body_that_is_not_json_is_a_400(thread: Thread) -> None:
    for path in ("commands", "stream/events"):
        response = await thread.http.post(f"{thread.path}/{path}", content=b"{not json")
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"channels": []},
        {"channels": "values"},
        {"channels": ["values", "bogus"]},
        {"channels": [7]},
        {"namespaces": [[]]},
    ],
)
async def test_a_stream_without_good_channels_is_a_400(thread: Thread, body: Any) -> None:
    await thread.start(ask(approve=False, tokens=2))
    response = await asyncio.wait_for(
        thread.http.post(f"{thread.path}/stream/events", json=body), SECONDS
    )
    assert response.status_code == 400, response.text
    assert "channels" in response.json()["detail"]


async def test_the_stream_is_well_formed_sse_with_heartbeats(thread: Thread) -> None:
    checker = sse_check()
    events = await thread.converse()
    raw = b""
    async with asyncio.timeout(SECONDS):
        async with thread.http.stream(
            "POST", f"{thread.path}/stream/events", json={"channels": CHANNELS}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers.get("x-accel-buffering") == "no"
            async for chunk in response.aiter_raw():
                raw += chunk
                frames = checker.parse(raw)
                read = [f for f in frames if f.is_event]
                after = frames[frames.index(read[-1]) + 1 :] if read else []
                if len(read) >= len(events) and any(f.comments for f in after):
                    break
    frames = checker.parse(raw.rsplit(b"\n\n", 1)[0] + b"\n\n")
    assert not [line for f in frames for line in f.lines if line.startswith("<")]
    read = [f for f in frames if f.is_event]
    assert len(read) == len(events)
    for frame, event in zip(read, events, strict=True):
        assert frame.event == event["method"] and frame.id == str(event["seq"])
        assert len(frame.data) == 1 and json.loads(frame.data[0]) == event
    assert any(f.comments and not f.is_event for f in frames), "no heartbeat comment"


# ---------------------------------------------------------------------------------------------
# Every way of starting a run shows on the thread's stream.
# ---------------------------------------------------------------------------------------------


async def test_a_run_started_through_the_legacy_routes_appears_on_the_thread_stream(
    thread: Thread,
) -> None:
    created = await thread.http.post("/threads", json={"thread_id": thread.thread_id})
    assert created.status_code == 200, created.text
    observer = asyncio.create_task(thread.read(until=ends(2)))
    sdk = get_client(url=str(thread.http.base_url), timeout=30)
    try:
        legacy = [
            part
            async for part in sdk.runs.stream(
                thread.thread_id, "agent", input=ask(approve=True), stream_mode=["values"]
            )
        ]
        assert legacy[-1].event == "values" and legacy[-1].data["__interrupt__"]
        # The interrupt of a run the legacy routes started is answered by command.
        seen = await thread.read(until=lambda e: e[-1]["method"] == "input.requested")
        answer = await thread.respond(seen[-1], "yes")
        assert answer["type"] == "success", answer
        events = await asyncio.wait_for(observer, SECONDS)
    finally:
        await sdk.aclose()
    asked, answered = runs_of(events)
    assert asked[-1]["params"]["data"]["event"] == "interrupted"
    assert answered[-1]["params"]["data"]["event"] == "completed"
    think, draft, answer_message = messages_of(events)
    assert_token_by_token(think, said("hi"))
    assert_token_by_token(draft, said("draft hi"))
    assert_token_by_token(answer_message, said("answer hi"))
    final = of(asked, "values", [])[-1]
    assert final["messages"][-1]["content"] == legacy[-1].data["messages"][-1]["content"]
    assert (await thread.http.get(thread.path)).json()["values"]["decision"] == "yes"


async def test_a_run_started_through_the_native_api_appears_on_the_thread_stream(
    gateway: Server, thread: Thread
) -> None:
    async with api_client(gateway.url) as native:
        created = await native.post("/threads", json={"thread_id": thread.thread_id})
        assert created.status_code == 201, created.text
        observer = asyncio.create_task(thread.read(until=ends(1)))
        run = await native.post(
            f"/threads/{thread.thread_id}/runs", json={"input": ask(approve=False)}
        )
        assert run.status_code == 201, run.text
        events = await asyncio.wait_for(observer, SECONDS)
    (only,) = runs_of(events)
    assert only[-1]["params"]["data"]["event"] == "completed"
    think, _draft, answer = messages_of(events)
    assert_token_by_token(think, said("hi"))
    assert_token_by_token(answer, said("answer hi"))
    assert await thread.read(until=through(events[-1]["event_id"])) == events


# ---------------------------------------------------------------------------------------------
# The WebSocket: commands in, responses and the same events out.
# ---------------------------------------------------------------------------------------------


def ws_url(thread: Thread) -> str:
    base = str(thread.http.base_url).rstrip("/").replace("http://", "ws://", 1)
    return f"{base}{thread.path}/stream/events"


async def test_a_websocket_carries_commands_and_the_same_events_as_sse(thread: Thread) -> None:
    frames: list[dict[str, Any]] = []
    responses: dict[Any, dict[str, Any]] = {}
    async with asyncio.timeout(SECONDS), ws_connect(ws_url(thread)) as ws:
        await ws.send(
            json.dumps(
                {"id": 1, "method": "subscription.subscribe", "params": {"channels": CHANNELS}}
            )
        )
        start = {"assistant_id": thread.assistant_id, "input": ask(approve=True)}
        await ws.send(json.dumps({"id": 2, "method": "run.start", "params": start}))
        await ws.send("not json")
        await ws.send(json.dumps({"id": 3, "method": "no.such.method", "params": {}}))
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] != "event":
                responses[frame["id"]] = frame
                continue
            frames.append(frame)
            if frame["method"] == "input.requested":
                params = {
                    "namespace": frame["params"]["namespace"],
                    "interrupt_id": frame["params"]["data"]["interrupt_id"],
                    "response": "yes",
                }
                await ws.send(json.dumps({"id": 4, "method": "input.respond", "params": params}))
            if ends(2)(frames):
                break
    assert responses[1]["type"] == "success" and responses[1]["result"]["subscription_id"]
    assert responses[2]["type"] == "success" and responses[2]["result"]["run_id"]
    assert responses[None]["type"] == "error" and responses[None]["error"] == "invalid_argument"
    assert responses[3]["type"] == "error" and responses[3]["error"] == "unknown_command"
    assert responses[4]["type"] == "success" and responses[4]["result"] == {}
    assert_envelopes(frames)
    assert await thread.read(until=through(frames[-1]["event_id"])) == frames


async def test_a_websocket_subscription_filters_and_resumes_like_sse(thread: Thread) -> None:
    full = await thread.converse()
    middle = full[len(full) // 3]["seq"]
    bodies = [
        {"channels": ["messages", "lifecycle"], "namespaces": [[]], "depth": 0},
        {"channels": CHANNELS, "since": middle},
        {"channels": ["values", "input"], "since": middle},
    ]
    for body in bodies:
        expected = [
            e for e in full if matches_subscription(e, body) and e["seq"] > body.get("since", -1)
        ]
        got: list[Event] = []
        async with asyncio.timeout(SECONDS), ws_connect(ws_url(thread)) as ws:
            await ws.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": body}))
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "event":
                    got.append(frame)
                    if got[-1]["event_id"] == expected[-1]["event_id"]:
                        break
                else:
                    assert frame["type"] == "success" and frame["id"] == 1, frame
        assert got == expected, body


async def test_websocket_subscriptions_add_up_unsubscribe_and_the_agent_tree_follows(
    thread: Thread,
) -> None:
    frames: list[Event] = []
    responses: dict[int, dict[str, Any]] = {}
    trees: list[dict[str, Any]] = []
    ids = itertools.count(1)

    async def send(ws: Any, method: str, params: dict[str, Any]) -> int:
        command_id = next(ids)
        await ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        return command_id

    async with asyncio.timeout(SECONDS), ws_connect(ws_url(thread)) as ws:
        both = await send(ws, "subscription.subscribe", {"channels": ["lifecycle", "values"]})
        gone = await send(ws, "subscription.subscribe", {"channels": ["values", "messages"]})
        while gone not in responses:
            frame = json.loads(await ws.recv())
            responses[frame["id"]] = frame
        subscription_id = responses[gone]["result"]["subscription_id"]
        assert subscription_id != responses[both]["result"]["subscription_id"]
        dropped = await send(ws, "subscription.unsubscribe", {"subscription_id": subscription_id})
        start = {"assistant_id": thread.assistant_id, "input": ask(approve=False)}
        await send(ws, "run.start", start)
        asked_inside = asked_after = None
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] != "event":
                responses[frame["id"]] = frame
                if frame["id"] in (asked_inside, asked_after):
                    trees.append(frame)
                if asked_after is not None and len(trees) == 2:
                    break
                continue
            frames.append(frame)
            namespace = frame["params"]["namespace"]
            if namespace and asked_inside is None:  # inside the subgraph, live
                asked_inside = await send(ws, "agent.getTree", {})
            if ends(1)(frames):
                asked_after = await send(ws, "agent.getTree", {})
    assert responses[dropped]["type"] == "success", responses[dropped]
    # What is left: lifecycle and values, each event once (two subscriptions asked for values).
    assert {f["method"] for f in frames} == {"lifecycle", "values"}
    assert len({f["event_id"] for f in frames}) == len(frames)
    whole = await thread.read(until=through(frames[-1]["event_id"]))
    assert frames == [e for e in whole if e["method"] in ("lifecycle", "values")]
    review = subgraph_namespace(whole)
    inside, after = (t["result"]["tree"] for t in trees)
    assert inside["namespace"] == [] and inside["graph_name"] == "agent"
    assert inside["status"] == "running" and after["status"] == "completed"
    assert [(c["namespace"], c["graph_name"]) for c in after["children"]] == [(review, "review")]
    assert after["children"][0]["status"] == "completed"
    assert [c["namespace"] for c in inside["children"]] == [review]


# ---------------------------------------------------------------------------------------------
# LangGraph's Python SDK: `client.threads.stream`, over SSE and over a WebSocket.
# ---------------------------------------------------------------------------------------------

TRANSPORTS = ["sse", "websocket"]


async def sdk_conversation(base: str, transport: str) -> dict[str, Any]:
    """What a client of `client.threads.stream` sees of a run that asks for input and of the
    run its answer starts: root messages as text, tool calls, the interrupt, the output."""
    client = get_client(url=base, timeout=30)
    seen: dict[str, Any] = {}
    try:
        assistant_id = (await client.assistants.search())[0]["assistant_id"]
        async with asyncio.timeout(SECONDS):
            stream = client.threads.stream(assistant_id=assistant_id, transport=transport)
            async with stream as thread:
                started = await thread.run.start(input=ask(approve=True))
                seen["run_id"] = started["run_id"]
                items = [x async for x in thread.interleave_projections(["messages", "tool_calls"])]
                seen["asked"] = [await item.text for kind, item in items if kind == "messages"]
                calls = [item for kind, item in items if kind == "tool_calls"]
                seen["tools"] = [(c.tool_call_id, c.name, c.input) for c in calls]
                seen["tool_output"] = [await c.output for c in calls]
                assert thread.interrupted
                seen["interrupts"] = [
                    (i["namespace"], i["interrupt_id"]) for i in thread.interrupts
                ]
                # Follow the next run from before it starts.
                registered = len(thread._controller._subscriptions)
                second = asyncio.create_task(_collect(thread.interleave_projections(["messages"])))
                while len(thread._controller._subscriptions) == registered:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                seen["respond"] = await thread.run.respond("yes")
                seen["answered"] = [await item.text for _, item in await second]
                output = await thread.output
                seen["decision"] = output["decision"]
                seen["types"] = [m["type"] for m in output["messages"]]
                seen["thread_id"] = thread.thread_id
    finally:
        await client.aclose()
    return seen


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


def tool_text(output: Any) -> str:
    return output if isinstance(output, str) else output["content"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_sdk_thread_stream_runs_pauses_and_resumes(
    http: httpx.AsyncClient, transport: str
) -> None:
    seen = await sdk_conversation(str(http.base_url), transport)
    assert seen["asked"] == [said("hi")]
    (interrupt,) = seen["interrupts"]
    assert interrupt[0] == []
    assert seen["respond"] == {}
    assert seen["answered"] == [said("answer hi")]
    assert seen["decision"] == "yes"
    assert seen["types"] == ["human", "ai", "tool", "ai"]
    # The interrupt the SDK answered is the one the thread's stream asked with.
    thread = Thread(http, await assistant_of(http), seen["thread_id"])
    events = await thread.read(until=ends(2))
    (request,) = of(events, "input.requested")
    assert interrupt[1] == request["interrupt_id"]
    assert [tool_text(o) for o in seen["tool_output"]] == ["found: hi"]
    assert seen["tools"] == [("call-search-1", "search", {"query": "hi"})]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_sdk_reads_a_subgraph_s_messages_by_its_namespace(
    http: httpx.AsyncClient, transport: str
) -> None:
    client = get_client(url=str(http.base_url), timeout=30)
    try:
        assistant_id = await assistant_of(http)
        async with asyncio.timeout(SECONDS):
            stream = client.threads.stream(assistant_id=assistant_id, transport=transport)
            async with stream as thread:
                await thread.run.start(input=ask(approve=False))
                children = [child async for child in thread.subgraphs]
                (child,) = children
                assert child.graph_name == "review" and child.status == "completed"
                texts = [await m.text for m in await _collect(child.messages)]
                assert texts == [said("draft hi")]
                assert (await thread.output)["draft"] == said("draft hi")
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# A cut connection: a reconnect from the last event gets exactly the rest.
# ---------------------------------------------------------------------------------------------


async def test_a_cut_connection_resumes_exactly_by_since_and_by_last_event_id(
    gateway: Server, thread: Thread
) -> None:
    port = int(gateway.url.rsplit(":", 1)[1])
    with CuttableProxy(port) as proxy:
        async with api_client(f"http://127.0.0.1:{proxy.port}/langgraph") as proxied:
            through_proxy = Thread(proxied, thread.assistant_id, thread.thread_id)
            got: list[Event] = []
            connections = 0

            def cut(segment: list[Event]) -> None:
                if len(segment) == 17:
                    assert proxy.cut() >= 1

            await thread.start(ask(approve=False, **SLOW))
            while not any(map(is_terminal, got)):
                connections += 1
                assert connections < 30, "too many reconnects"
                segment: list[Event] = []
                body: dict[str, Any] = {"channels": CHANNELS}
                headers: dict[str, str] = {}
                if got and connections % 2:
                    headers["Last-Event-ID"] = str(got[-1]["seq"])
                elif got:
                    body["since"] = got[-1]["seq"]
                with contextlib.suppress(httpx.TransportError):  # the cut
                    await through_proxy.read(
                        body, headers=headers, until=ends(1), into=segment, on_event=cut
                    )
                got += segment
    assert connections >= 3, "the run ended before the connection was cut twice"
    assert got == await thread.read(until=through(got[-1]["event_id"]))
    think, _draft, answer = messages_of(got)
    assert_token_by_token(think, said("hi", SLOW["tokens"]), SLOW["tokens"])
    assert_token_by_token(answer, said("answer hi", SLOW["tokens"]), SLOW["tokens"])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_sdk_reconnects_after_a_cut_and_assembles_the_same_messages(
    gateway: Server, http: httpx.AsyncClient, transport: str
) -> None:
    assistant_id = await assistant_of(http)

    async def texts(base: str, proxy: CuttableProxy | None) -> tuple[list[str], int, Any]:
        client = get_client(url=base, timeout=30)
        cuts = 0
        try:
            async with asyncio.timeout(SECONDS):
                stream = client.threads.stream(assistant_id=assistant_id, transport=transport)
                async with stream as thread:
                    await thread.run.start(input=ask(approve=False, **SLOW))
                    streams = []
                    async for _kind, message in thread.interleave_projections(["messages"]):
                        streams.append(message)
                        if proxy is not None:  # cut while each root message streams
                            await asyncio.sleep(0.2)
                            cuts += proxy.cut()
                    output = await thread.output
                    return [await m.text for m in streams], cuts, output["messages"][-1]["content"]
        finally:
            await client.aclose()

    uncut, _, last = await texts(str(http.base_url), None)
    assert uncut == [said("hi", SLOW["tokens"]), said("answer hi", SLOW["tokens"])]
    port = int(gateway.url.rsplit(":", 1)[1])
    with CuttableProxy(port) as proxy:
        cut, cuts, cut_last = await texts(f"http://127.0.0.1:{proxy.port}/langgraph", proxy)
    assert cuts >= 2
    assert cut == uncut and cut_last == last


# ---------------------------------------------------------------------------------------------
# Two processes over one Redis.
# ---------------------------------------------------------------------------------------------


async def test_a_subscription_on_one_process_follows_a_run_started_on_another(
    spawn: Spawn, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    shared = {"store_url": redis_server.url, "checkpointer": postgres_server.url}
    a, b = spawn(GRAPH, heartbeat_seconds=1, **shared), spawn(GRAPH, heartbeat_seconds=1, **shared)
    async with api_client(f"{a.url}/langgraph") as on_a, api_client(f"{b.url}/langgraph") as on_b:
        assistant_id = await assistant_of(on_a)
        thread_a = Thread(on_a, assistant_id)
        thread_b = Thread(on_b, assistant_id, thread_a.thread_id)
        followed: list[Event] = []
        answers: list[asyncio.Future[dict[str, Any]]] = []
        on_a_from_b: list[asyncio.Task[list[Event]]] = []

        def follow(seen: list[Event]) -> None:
            if seen[-1]["method"] == "input.requested":  # B answers what A's run asks
                answers.append(asyncio.ensure_future(thread_b.respond(seen[-1], "yes")))
            if len(seen) == 25:  # a cursor from B, resumed on A, while the run is live
                body = {"channels": CHANNELS, "since": seen[-1]["seq"]}
                on_a_from_b.append(asyncio.create_task(thread_a.read(body, until=ends(2))))

        reader = asyncio.create_task(thread_b.read(until=ends(2), into=followed, on_event=follow))
        await asyncio.sleep(0.3)  # B's stream is open (no wait for an outcome)
        await thread_a.start(ask(approve=True, **SLOW))
        await asyncio.wait_for(reader, SECONDS)
        (answer,) = await asyncio.gather(*answers)
        assert answer["type"] == "success", answer
        (rest,) = await asyncio.gather(*on_a_from_b)
        assert rest == followed[25:]
        asked, answered = runs_of(followed)
        assert asked[-1]["params"]["data"]["event"] == "interrupted"
        assert answered[-1]["params"]["data"]["event"] == "completed"
        *_, answer_message = messages_of(followed)
        assert_token_by_token(answer_message, said("answer hi", SLOW["tokens"]), SLOW["tokens"])
        last = followed[-1]["event_id"]
        assert await thread_a.read(until=through(last)) == followed
        assert await thread_b.read(until=through(last)) == followed
        middle = followed[len(followed) // 2]["seq"]
        assert await thread_a.read(
            {"channels": CHANNELS, "since": middle}, until=through(last)
        ) == [e for e in followed if e["seq"] > middle]
