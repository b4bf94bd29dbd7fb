"""Threads, interrupts and resume over HTTP, on both stores (memory + in-memory checkpoints,
Redis + PostgreSQL checkpoints)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from conftest import Server
from sse import FAST, Received, read_events, wait_status

APPROVE = {**FAST, "topic": "streams", "approve": True}


def new_thread(c: httpx.Client, **body: Any) -> str:
    response = c.post("/threads", json=body)
    assert response.status_code == 201, response.text
    return response.json()["thread_id"]


def run_on(c: httpx.Client, thread_id: str, **body: Any) -> dict[str, Any]:
    response = c.post(f"/threads/{thread_id}/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def stream_of(c: httpx.Client, run: dict[str, Any]) -> list[Received]:
    return read_events(c, run["stream_url"])


def interrupted_run(c: httpx.Client, thread_id: str) -> list[Received]:
    events = stream_of(c, run_on(c, thread_id, input=APPROVE))
    assert [e.name for e in events[-2:]] == ["run.interrupt", "run.end"]
    return events


def test_a_thread_is_created_read_and_refused_twice(client: httpx.Client) -> None:
    thread_id = f"t-{uuid.uuid4().hex[:8]}"
    created = client.post("/threads", json={"thread_id": thread_id, "metadata": {"user": "ann"}})
    assert created.status_code == 201
    body = created.json()
    assert body["thread_id"] == thread_id and body["status"] == "idle"
    assert body["metadata"] == {"user": "ann"} and body["created_at"] == body["updated_at"]
    assert client.post("/threads", json={"thread_id": thread_id}).status_code == 409
    read = client.get(f"/threads/{thread_id}").json()
    assert read == {**body, "values": None, "interrupts": []}
    state = client.get(f"/threads/{thread_id}/state").json()
    assert state == {
        "values": None,
        "next": [],
        "tasks": [],
        "checkpoint_id": None,
        "created_at": None,
    }
    assert client.get(f"/threads/{thread_id}/runs").json() == []
    generated = client.post("/threads", json={}).json()["thread_id"]
    assert len(generated) == 32


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"thread_id": "has space"}, 422),
        ({"thread_id": "x" * 101}, 422),
        ({"metadata": "not a dict"}, 422),
        ({"other": 1}, 422),
    ],
)
def test_bad_thread_bodies_are_refused(client: httpx.Client, body: Any, status: int) -> None:
    assert client.post("/threads", json=body).status_code == status


def test_unknown_threads_answer_404(client: httpx.Client) -> None:
    for path in ("", "/state", "/history", "/runs"):
        response = client.get(f"/threads/nope-{uuid.uuid4().hex}{path}")
        assert response.status_code == 404 and response.json()["error"] == "thread_not_found"
    assert client.delete(f"/threads/nope-{uuid.uuid4().hex}").status_code == 404
    response = client.post(f"/threads/nope-{uuid.uuid4().hex}/runs", json={"input": FAST})
    assert response.status_code == 404


def test_an_interrupt_pauses_the_run_and_the_thread_waits(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    events = interrupted_run(client, thread_id)
    start, pause, end = events[0], events[-2], events[-1]
    assert start.data["thread_id"] == thread_id and start.data["command"] is None
    (pending,) = pause.data["interrupts"]
    assert pending["node"] == "lookup" and pending["path"] == []
    assert pending["value"] == {
        "question": "Look 'streams' up with the lookup tool?",
        "tool": "lookup",
        "args": {"topic": "streams"},
    }
    # The paused node stays open: its node.start has no node.end.
    lookup = [e for e in events if e.data.get("node") == "lookup"]
    assert [e.name for e in lookup] == ["node.start"]
    assert pending["span_id"] == lookup[0].data["span_id"]
    assert end.data["status"] == "interrupted" and "output" not in end.data
    assert wait_status(client, end.data["run_id"], "interrupted")["thread_id"] == thread_id
    thread = client.get(f"/threads/{thread_id}").json()
    assert thread["status"] == "interrupted"
    assert thread["interrupts"] == pause.data["interrupts"]
    assert [m["content"] for m in thread["values"]["messages"]] == ["streams"]
    state = client.get(f"/threads/{thread_id}/state").json()
    assert state["next"] == ["lookup"]
    (task,) = state["tasks"]
    assert task["name"] == "lookup"
    assert task["interrupts"] == [{"id": pending["id"], "value": pending["value"]}]


@pytest.mark.parametrize(("answer", "tool_ran"), [(True, True), (False, False)])
def test_resuming_runs_the_paused_node_again_with_the_answer(
    client: httpx.Client, answer: bool, tool_ran: bool
) -> None:
    thread_id = new_thread(client)
    first = interrupted_run(client, thread_id)
    resumed = run_on(client, thread_id, command={"resume": answer})
    events = stream_of(client, resumed)
    start = events[0]
    assert start.name == "run.start"
    assert start.data["input"] is None and start.data["command"] == {"resume": answer}
    assert start.data["thread_id"] == thread_id
    assert [e.data["node"] for e in events if e.name == "node.start"] == ["lookup", "write"]
    assert ("tool.start" in [e.name for e in events]) is tool_ran
    end = events[-1]
    assert end.name == "run.end" and end.data["status"] == "success"
    facts = end.data["output"]["facts"]
    assert facts.startswith("streams: text/event-stream") if tool_ran else "not approved" in facts
    thread = client.get(f"/threads/{thread_id}").json()
    assert thread["status"] == "idle" and thread["interrupts"] == []
    runs = client.get(f"/threads/{thread_id}/runs").json()
    assert [r["run_id"] for r in runs] == [resumed["run_id"], first[0].data["run_id"]]
    assert [r["status"] for r in runs] == ["success", "interrupted"]
    history = client.get(f"/threads/{thread_id}/history", params={"limit": 3}).json()
    assert len(history) == 3 and history[0]["next"] == []
    assert (
        history[0]["checkpoint_id"]
        == client.get(f"/threads/{thread_id}/state").json()["checkpoint_id"]
    )
    assert history[0]["created_at"] > history[1]["created_at"] > history[2]["created_at"]


def test_a_second_run_on_a_thread_continues_the_conversation(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    for _ in range(2):
        run = run_on(client, thread_id, input={**FAST, "topic": "streams"})
        events = stream_of(client, run)
        assert events[-1].data["status"] == "success"
    tokens = "".join(e.data["text"] for e in events if e.name == "token")
    assert tokens.startswith("On streams (your message 2):")
    messages = client.get(f"/threads/{thread_id}").json()["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]


def test_bad_run_requests_change_nothing(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"input": FAST, "command": {"resume": True}}, 422, "invalid_body"),
        ({}, 422, "invalid_body"),
        ({"command": {}}, 422, "invalid_body"),
        ({"command": {"resume": 1, "other": 2}}, 422, "invalid_body"),
        ({"command": {"resume": True}}, 409, "not_interrupted"),
        ({"input": FAST, "multitask_strategy": "sometimes"}, 422, "invalid_body"),
        ({"input": FAST, "thread_id": "another"}, 400, "thread_id_mismatch"),
        (
            {"input": FAST, "config": {"configurable": {"thread_id": "another"}}},
            400,
            "thread_id_mismatch",
        ),
    ]
    for body, status, code in cases:
        response = client.post(f"/threads/{thread_id}/runs", json=body)
        assert (response.status_code, response.json()["error"]) == (status, code), body
    refused = client.post("/runs", json={"command": {"resume": True}})
    assert refused.status_code == 400 and refused.json()["error"] == "thread_required"
    assert client.get(f"/threads/{thread_id}/runs").json() == []
    assert client.get(f"/threads/{thread_id}").json()["status"] == "idle"
    assert client.get(f"/threads/{thread_id}/history", params={"limit": 0}).status_code == 422


def test_a_run_may_create_its_thread(client: httpx.Client) -> None:
    thread_id = f"made-{uuid.uuid4().hex[:8]}"
    refused = client.post(f"/threads/{thread_id}/runs", json={"input": FAST})
    assert refused.status_code == 404
    run = run_on(client, thread_id, input=FAST, if_not_exists="create")
    assert run["thread_id"] == thread_id
    assert stream_of(client, run)[-1].data["status"] == "success"
    # LangGraph's own way to name the thread works the same.
    named = client.post(
        "/runs", json={"input": FAST, "config": {"configurable": {"thread_id": thread_id}}}
    )
    assert named.status_code == 201 and named.json()["thread_id"] == thread_id


def test_a_one_shot_run_gets_a_thread_of_its_own_and_can_be_resumed(
    client: httpx.Client,
) -> None:
    events = read_events(client, "/stream", method="POST", json_body={"input": APPROVE})
    thread_id = events[0].data["thread_id"]
    assert thread_id and events[-1].data["status"] == "interrupted"
    # One request resumes it and streams the resumed run: GET /stream with the thread.
    resumed = read_events(
        client, "/stream", params={"thread_id": thread_id, "command": '{"resume": true}'}
    )
    assert resumed[0].data["command"] == {"resume": True}
    assert resumed[-1].data["status"] == "success"


def test_several_pending_interrupts_are_answered_by_id(make_server) -> None:
    srv: Server = make_server("sample_graphs:approvals")
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        thread_id = new_thread(c)
        events = stream_of(c, run_on(c, thread_id, input={}))
        pending = events[-2].data["interrupts"]
        assert sorted(p["node"] for p in pending) == ["ask_a", "ask_b"]
        ids = {p["node"]: p["id"] for p in pending}
        spans = {e.data["span_id"] for e in events if e.name == "node.start"}
        assert {p["span_id"] for p in pending} <= spans
        for resume, code in (
            ("one answer", "several_interrupts"),
            ({"0" * 32: "x"}, "interrupt_not_pending"),
        ):
            refused = c.post(f"/threads/{thread_id}/runs", json={"command": {"resume": resume}})
            assert refused.status_code == 409 and refused.json()["error"] == code
            assert {p["id"] for p in refused.json()["details"]["pending"]} == set(ids.values())
        # Answering one leaves the other pending; answering it finishes the run.
        partial = stream_of(c, run_on(c, thread_id, command={"resume": {ids["ask_a"]: "yes"}}))
        assert [p["node"] for p in partial[-2].data["interrupts"]] == ["ask_b"]
        done = stream_of(c, run_on(c, thread_id, command={"resume": {ids["ask_b"]: "no"}}))
        assert done[-1].data["status"] == "success"
        assert sorted(done[-1].data["output"]["answers"]) == ["a=yes", "b=no"]


def test_an_interrupt_inside_a_subgraph_names_its_node(make_server) -> None:
    srv: Server = make_server("sample_graphs:nested")
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        thread_id = new_thread(c)
        events = stream_of(c, run_on(c, thread_id, input={}))
        (pending,) = events[-2].data["interrupts"]
        assert pending["node"] == "inner" and pending["path"] == ["outer"]
        inner = next(e for e in events if e.name == "node.start" and e.data["node"] == "inner")
        assert pending["span_id"] == inner.data["span_id"]
        done = stream_of(c, run_on(c, thread_id, command={"resume": "ok"}))
        assert done[-1].data["output"]["answers"] == ["inner=ok"]


def test_reject_refuses_a_second_run_while_one_is_active(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    first = run_on(client, thread_id, input={**FAST, "delay": 0.5})
    refused = client.post(f"/threads/{thread_id}/runs", json={"input": FAST})
    assert refused.status_code == 409 and refused.json()["error"] == "thread_busy"
    assert refused.json()["details"]["active_run"] == first["run_id"]
    assert client.get(f"/threads/{thread_id}").json()["status"] == "busy"
    assert client.delete(f"/threads/{thread_id}").status_code == 409
    assert stream_of(client, first)[-1].data["status"] == "success"
    assert len(client.get(f"/threads/{thread_id}/runs").json()) == 1
    assert client.delete(f"/threads/{thread_id}").status_code == 204
    assert client.get(f"/threads/{thread_id}").status_code == 404


def test_interrupt_cancels_the_active_run_then_starts(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    first = run_on(client, thread_id, input={**FAST, "delay": 2})
    wait_status(client, first["run_id"], "running")
    second = run_on(client, thread_id, input=FAST, multitask_strategy="interrupt")
    assert stream_of(client, first)[-1].data["status"] == "cancelled"
    events = stream_of(client, second)
    assert events[0].name == "run.start" and events[-1].data["status"] == "success"


def test_enqueue_runs_each_in_turn_in_creation_order(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    runs = [run_on(client, thread_id, input={**FAST, "delay": 0.2})]
    runs += [
        run_on(client, thread_id, input={**FAST, "topic": f"q{i}"}, multitask_strategy="enqueue")
        for i in range(2)
    ]
    assert [client.get(f"/runs/{r['run_id']}").json()["status"] for r in runs[1:]] == [
        "pending",
        "pending",
    ]
    streams = [stream_of(client, run) for run in runs]
    spans = [(s[0].data["ts"], s[-1].data["ts"]) for s in streams]
    assert all(s[-1].data["status"] == "success" for s in streams)
    assert spans[0][1] <= spans[1][0] and spans[1][1] <= spans[2][0], spans
    assert [s[0].data["input"].get("topic") for s in streams[1:]] == ["q0", "q1"]


def test_a_queued_run_can_be_cancelled_before_it_starts(client: httpx.Client) -> None:
    thread_id = new_thread(client)
    first = run_on(client, thread_id, input={**FAST, "delay": 0.5})
    queued = run_on(client, thread_id, input=FAST, multitask_strategy="enqueue")
    assert client.post(f"/runs/{queued['run_id']}/cancel").status_code == 202
    assert [e.name for e in stream_of(client, queued)] == ["run.end"]
    assert stream_of(client, first)[-1].data["status"] == "success"
    deadline = time.monotonic() + 10
    while client.get(f"/threads/{thread_id}").json()["status"] != "idle":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_without_a_checkpointer_threads_are_off_and_interrupts_are_errors(make_server) -> None:
    srv: Server = make_server(checkpointer="none")
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        refused = c.post("/threads", json={})
        assert refused.status_code == 501 and "GATEWAY_CHECKPOINTER" in refused.json()["message"]
        assert c.get("/threads/x").status_code == 501
        events = read_events(c, "/stream", method="POST", json_body={"input": APPROVE})
    assert events[0].data["thread_id"] is None
    assert [e.name for e in events[-3:]] == ["node.error", "run.error", "run.end"]
    assert events[-3].data["node"] == "lookup"
    assert events[-2].data["error"]["type"] == "CheckpointerRequired"
    assert "GATEWAY_CHECKPOINTER" in events[-2].data["error"]["message"]
    assert events[-1].data["status"] == "error"


def test_a_one_shot_run_s_thread_expires_with_it_and_others_stay(make_server) -> None:
    srv: Server = make_server(run_ttl_seconds=0.5)
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        kept = new_thread(c)
        assert stream_of(c, run_on(c, kept, input=FAST))[-1].data["status"] == "success"
        events = read_events(c, "/stream", params={"delay": "0.01", "tokens": "1"})
        own = events[0].data["thread_id"]
        assert c.get(f"/threads/{own}").status_code == 200
        deadline = time.monotonic() + 15
        # Gone with its checkpoints: the thread is not rebuilt from them either.
        while c.get(f"/threads/{own}").status_code != 404:
            assert time.monotonic() < deadline, "the one-shot run's thread never expired"
            time.sleep(0.2)
        thread = c.get(f"/threads/{kept}").json()
        assert [m["type"] for m in thread["values"]["messages"]] == ["human", "ai"]
