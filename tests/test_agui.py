"""The AG-UI dialect over raw HTTP against a real uvicorn serving the demo graph: framing, ids,
the exact rejoin from every position, the join, interrupts and their resume, a second turn,
and bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import Server, Spawn

QUICK = {"delay": 0.01, "tokens": 6, "token_delay": 0.01}


@pytest.fixture(scope="module")
def agui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("agui"), checkpointer="memory://")
    yield srv
    srv.stop()


def body(thread_id: str, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "runId": uuid.uuid4().hex,
        "messages": [{"id": uuid.uuid4().hex, "role": "user", "content": text}],
        "state": QUICK,
        **extra,
    }


def read(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(id, event) of each frame; every frame must be one id line and one data line."""
    out = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines or lines[0].startswith("retry:"):
            continue
        assert [line.split(":", 1)[0] for line in lines] == ["id", "data"], block
        out.append((lines[0][4:], json.loads(lines[1][6:])))
    return out


def post(server: Server, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    answer = httpx.post(f"{server.url}/ag-ui", json=payload, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    path = f"/ag-ui/threads/{payload['threadId']}/runs/{payload['runId']}/stream"
    assert answer.headers["location"] == path
    return read(answer)


def rejoin(server: Server, payload: dict[str, Any], last_id: str | None = None) -> httpx.Response:
    path = f"/ag-ui/threads/{payload['threadId']}/runs/{payload['runId']}/stream"
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=60)


def types(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [event["type"] for _, event in events]


def test_a_run_streams_valid_ag_ui_with_ids(agui: Server) -> None:
    payload = body(uuid.uuid4().hex)
    events = post(agui, payload)
    kinds = types(events)
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    assert events[0][1] == {
        "type": "RUN_STARTED",
        "threadId": payload["threadId"],
        "runId": payload["runId"],
    }
    assert events[-1][1]["outcome"] == {"type": "success"}
    ids = [event_id for event_id, _ in events]
    assert len(set(ids)) == len(ids)
    positions = [tuple(int(part) for part in event_id.split(".")) for event_id in ids]
    assert positions == sorted(positions)
    # Steps open and close in pairs; one text message, its deltas the answer.
    assert kinds.count("STEP_STARTED") == kinds.count("STEP_FINISHED") >= 5
    (start,) = [e for _, e in events if e["type"] == "TEXT_MESSAGE_START"]
    deltas = [e["delta"] for _, e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]
    assert len(deltas) == QUICK["tokens"]
    assert kinds.index("TEXT_MESSAGE_END") > kinds.index("TEXT_MESSAGE_START")
    # The snapshots before the end: the streamed message under its streamed id.
    snapshot = [e for _, e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1]
    assert snapshot["messages"][-1] == {
        "id": start["messageId"],
        "role": "assistant",
        "content": "".join(deltas),
    }
    assert kinds[-3:] == ["STATE_SNAPSHOT", "MESSAGES_SNAPSHOT", "RUN_FINISHED"]


def test_a_rejoin_from_every_position_gives_exactly_the_rest(agui: Server) -> None:
    payload = body(uuid.uuid4().hex)
    events = post(agui, payload)
    for index, (event_id, _) in enumerate(events[:-1]):
        answer = rejoin(agui, payload, event_id)
        assert answer.status_code == 200
        assert read(answer) == events[index + 1 :], event_id
    # After the last event there is nothing more: 204, which ends an EventSource.
    assert rejoin(agui, payload, events[-1][0]).status_code == 204


def test_a_join_without_an_id_says_where_the_run_stands(agui: Server) -> None:
    payload = body(uuid.uuid4().hex)
    events = post(agui, payload)
    joined = read(rejoin(agui, payload))
    assert types(joined) == ["RUN_STARTED", "STATE_SNAPSHOT", "MESSAGES_SNAPSHOT", "RUN_FINISHED"]
    assert joined[2][1] == [e for _, e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1]
    # Its ids resume like any other: after the join's last, nothing is left.
    assert rejoin(agui, payload, joined[-1][0]).status_code == 204


def test_an_interrupt_ends_the_run_with_it_and_a_resume_continues(agui: Server) -> None:
    thread_id = uuid.uuid4().hex
    first = body(thread_id, state={**QUICK, "approve": True})
    events = post(agui, first)
    finished = events[-1][1]
    assert finished["type"] == "RUN_FINISHED" and finished["outcome"]["type"] == "interrupt"
    (pending,) = finished["outcome"]["interrupts"]
    assert "lookup" in pending["message"]
    # Clients before AG-UI 1.0 get it as ag-ui-langgraph sends it.
    legacy = [e for _, e in events if e["type"] == "CUSTOM" and e["name"] == "on_interrupt"]
    assert json.loads(legacy[0]["value"])["tool"] == "lookup"
    resume = [{"interruptId": pending["id"], "status": "resolved", "payload": True}]
    second = {**body(thread_id), "messages": first["messages"], "resume": resume}
    resumed = post(agui, second)
    assert resumed[-1][1]["outcome"] == {"type": "success"}
    assert "TEXT_MESSAGE_START" in types(resumed)


def test_a_second_turn_with_the_whole_history_adds_only_the_new_message(agui: Server) -> None:
    thread_id = uuid.uuid4().hex
    first = body(thread_id, "first")
    events = post(agui, first)
    history = [e for _, e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1]["messages"]
    question = {"id": uuid.uuid4().hex, "role": "user", "content": "second"}
    second = {**body(thread_id), "messages": [*history, question]}
    messages = [e for _, e in post(agui, second) if e["type"] == "MESSAGES_SNAPSHOT"][-1]
    assert [m["id"] for m in messages["messages"][:3]] == [
        *[m["id"] for m in history],
        question["id"],
    ]
    assert [m["role"] for m in messages["messages"]] == ["user", "assistant"] * 2


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"runId": "r", "messages": []}, 422),
        ({"threadId": "a b", "runId": "r", "messages": []}, 422),
        ({"threadId": "t", "runId": "r", "messages": "nope"}, 422),
    ],
)
def test_bad_bodies_are_4xx_json(agui: Server, payload: dict[str, Any], status: int) -> None:
    answer = httpx.post(f"{agui.url}/ag-ui", json=payload, timeout=10)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")


def test_a_run_id_is_used_once_and_bad_rejoins_are_refused(agui: Server) -> None:
    payload = body(uuid.uuid4().hex)
    post(agui, payload)
    again = httpx.post(f"{agui.url}/ag-ui", json=payload, timeout=10)
    assert again.status_code == 409
    assert rejoin(agui, payload, "not-an-id").status_code == 400
    assert rejoin(agui, payload, "99999.0").status_code == 400
    assert rejoin(agui, {**payload, "runId": "nosuchrun"}).status_code == 404
    assert rejoin(agui, {**payload, "threadId": "another"}).status_code == 404


def test_a_failing_node_ends_with_run_error_and_nothing_after(agui: Server) -> None:
    events = post(agui, body(uuid.uuid4().hex, state={**QUICK, "fail": "merge"}))
    assert events[-1][1]["type"] == "RUN_ERROR"
    assert "DemoFailure" in events[-1][1]["message"]
    assert "RUN_FINISHED" not in types(events)


def test_spawned_gateways_share_the_dialect(spawn: Spawn) -> None:
    # With auth on, the dialect asks for credentials like every other route.
    srv = spawn(checkpointer="memory://", auth="api-keys", api_keys="alice:" + "k" * 20)
    answer = httpx.post(f"{srv.url}/ag-ui", json=body("t"), timeout=10)
    assert answer.status_code == 401
    ok = httpx.post(f"{srv.url}/ag-ui", json=body("t"), headers={"X-Api-Key": "k" * 20}, timeout=30)
    assert ok.status_code == 200 and read(ok)[-1][1]["type"] == "RUN_FINISHED"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("agui-agent"), "v2_graphs:agent")
    yield srv
    srv.stop()


def test_tool_calls_and_their_results_carry_the_ids_of_every_snapshot(agent: Server) -> None:
    payload = body(uuid.uuid4().hex, "hi", state={"tokens": 3})
    events = [event for _, event in post(agent, payload)]
    (start,) = [e for e in events if e["type"] == "TOOL_CALL_START"]
    (args,) = [e for e in events if e["type"] == "TOOL_CALL_ARGS"]
    (result,) = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    kinds = [e["type"] for e in events]
    assert (
        kinds.index("TOOL_CALL_START")
        < kinds.index("TOOL_CALL_END")
        < kinds.index("TOOL_CALL_RESULT")
    )
    assert start["toolCallName"] == "search" and json.loads(args["delta"]) == {"query": "hi"}
    assert result["toolCallId"] == start["toolCallId"] and result["content"] == "found: hi"
    messages = [e for e in events if e["type"] == "MESSAGES_SNAPSHOT"][-1]["messages"]
    by_id = {m["id"]: m for m in messages}
    # The call's message is the assistant message it belongs to; the answer keeps its id.
    parent = by_id[start["parentMessageId"]]
    assert parent["role"] == "assistant"
    assert [c["id"] for c in parent["toolCalls"]] == [start["toolCallId"]]
    assert by_id[result["messageId"]]["role"] == "tool"
    assert by_id[result["messageId"]]["toolCallId"] == start["toolCallId"]
    # The subgraph's node runs inside its step.
    steps = [(e["type"], e["stepName"]) for e in events if e["type"].startswith("STEP_")]
    at = steps.index(("STEP_STARTED", "review"))
    assert steps[at : at + 4] == [
        ("STEP_STARTED", "review"),
        ("STEP_STARTED", "draft"),
        ("STEP_FINISHED", "draft"),
        ("STEP_FINISHED", "review"),
    ]


def test_a_new_attempt_closes_what_the_one_before_left_open() -> None:
    from app.dialects.agui.events import AgUiRun
    from app.events import encode_event

    log = [
        ("run.start", {}),
        ("node.start", {"node": "write", "span_id": "w1"}),
        ("token", {"node": "write", "span_id": "m1", "message_id": "a", "text": "On"}),
        ("run.attempt", {"attempt": 2, "reason": "process_lost", "unfinished": {}}),
        ("node.start", {"node": "write", "span_id": "w2"}),
    ]
    run = AgUiRun("t", "r")
    events = [
        out
        for seq, (name, fields) in enumerate(log, 1)
        for out in run.events(encode_event("r", seq, name, fields, 0, 65_536))
    ]
    assert [e["type"] for e in events] == [
        "RUN_STARTED",
        "STEP_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "STEP_FINISHED",
        "CUSTOM",
        "STEP_STARTED",
    ]
    assert events[6]["name"] == "run_attempt" and events[6]["value"]["attempt"] == 2


@pytest.fixture(scope="module")
def approvals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("agui-approvals"), "sample_graphs:approvals")
    yield srv
    srv.stop()


def test_several_interrupts_are_answered_in_one_resume(approvals: Server) -> None:
    # (ag-ui-langgraph cannot resume two interrupts together: its issue #2178.)
    thread_id = uuid.uuid4().hex
    first = body(thread_id, state={})
    finished = post(approvals, first)[-1][1]
    pending = finished["outcome"]["interrupts"]
    assert finished["outcome"]["type"] == "interrupt" and len(pending) == 2
    questions = {p["metadata"]["value"]["question"]: p["id"] for p in pending}
    assert set(questions) == {"a", "b"}
    resume = [
        {"interruptId": questions["a"], "status": "resolved", "payload": "yes"},
        {"interruptId": questions["b"], "status": "resolved", "payload": "no"},
    ]
    resumed = post(approvals, {**body(thread_id, state={}), "resume": resume})
    kinds = types(resumed)
    assert kinds[-1] == "RUN_FINISHED" and resumed[-1][1]["outcome"] == {"type": "success"}
    (state,) = [e for _, e in resumed if e["type"] == "STATE_SNAPSHOT"]
    assert sorted(state["snapshot"]["answers"]) == ["a=yes", "b=no"]


def test_a_rejoin_while_the_run_goes_on_gives_exactly_the_rest(agui: Server) -> None:
    import threading

    payload = body(uuid.uuid4().hex, state={**QUICK, "tokens": 80, "token_delay": 0.03})
    whole: list[tuple[str, dict[str, Any]]] = []
    seen_text = threading.Event()

    def read_whole() -> None:
        with httpx.stream("POST", f"{agui.url}/ag-ui", json=payload, timeout=60) as answer:
            block: list[str] = []
            for line in answer.iter_lines():
                if line:
                    block.append(line)
                    continue
                if len(block) == 2 and block[0].startswith("id: "):
                    whole.append((block[0][4:], json.loads(block[1][6:])))
                    if whole[-1][1]["type"] == "TEXT_MESSAGE_CONTENT" and len(whole) > 30:
                        seen_text.set()
                block = []

    reader = threading.Thread(target=read_whole, daemon=True)
    reader.start()
    assert seen_text.wait(30)
    position = whole[-1][0]
    path = f"{agui.url}/ag-ui/threads/{payload['threadId']}/runs/{payload['runId']}/stream"
    with httpx.Client(timeout=60) as client:
        rest = read(client.get(path, headers={"Last-Event-ID": position}))
    reader.join(60)
    ids = [event_id for event_id, _ in whole]
    assert rest == whole[ids.index(position) + 1 :]
    assert rest[-1][1]["type"] == "RUN_FINISHED"


def test_a_resume_through_forwarded_props_as_ag_ui_langgraph_takes_it(agui: Server) -> None:
    thread_id = uuid.uuid4().hex
    first = body(thread_id, state={**QUICK, "approve": True})
    assert post(agui, first)[-1][1]["outcome"]["type"] == "interrupt"
    resumed = post(agui, {**body(thread_id), "forwardedProps": {"command": {"resume": False}}})
    assert resumed[-1][1]["outcome"] == {"type": "success"}
    # Rejected: the tool was not called, and the answer says so.
    kinds = types(resumed)
    assert "TEXT_MESSAGE_START" in kinds
