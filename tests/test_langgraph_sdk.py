"""LangGraph's own Python SDK (`langgraph_sdk`) against the gateway's /langgraph, on both
stores: the calls a LangGraph frontend makes, and exact resume."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import Server
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from langgraph_sdk.schema import StreamPart

FAST = {"delay": 0.01, "tokens": 5, "token_delay": 0.002}
MODES = ["values", "updates", "messages-tuple", "custom"]


@pytest.fixture
async def sdk(server: Server) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=f"{server.url}/langgraph", timeout=30)
    yield client
    await client.aclose()


async def collect(parts: AsyncIterator[StreamPart]) -> list[StreamPart]:
    return [part async for part in parts]


def names(parts: list[StreamPart]) -> list[str]:
    return [part.event for part in parts]


async def test_the_assistant_is_the_served_graph(sdk: LangGraphClient) -> None:
    (assistant,) = await sdk.assistants.search(metadata={"created_by": "system"})
    assert assistant["graph_id"] == "demo" and assistant["name"] == "demo"
    assert assistant["assistant_id"] == str(
        uuid.uuid5(uuid.UUID(int=0x6BA7B8219DAD11D180B400C04FD430C8), "demo")
    )
    for ref in (assistant["assistant_id"], "demo"):
        assert (await sdk.assistants.get(ref))["graph_id"] == "demo"
    graph = await sdk.assistants.get_graph("demo")
    assert {n["id"] for n in graph["nodes"]} >= {"plan", "merge", "lookup", "write"}
    schemas = await sdk.assistants.get_schemas("demo")
    assert schemas["graph_id"] == "demo" and "state_schema" in schemas
    with pytest.raises(NotFoundError):
        await sdk.assistants.get("other")
    with pytest.raises(NotFoundError):  # as LangGraph's server answers a graph it lacks
        await sdk.assistants.search(graph_id="other")


async def test_a_streamed_run_speaks_every_requested_mode(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create(metadata={"user": "ann"})
    parts = await collect(
        sdk.runs.stream(
            thread["thread_id"], "demo", input={**FAST, "topic": "sdk"}, stream_mode=MODES
        )
    )
    assert parts[0].event == "metadata" and parts[0].data["attempt"] == 1
    run_id = parts[0].data["run_id"]
    assert {"values", "updates", "messages", "custom"} == set(names(parts[1:]))
    ids = [int(p.id.rsplit(".", 1)[1]) for p in parts]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # every event has its own id
    assert {p.id.rsplit(".", 1)[0] for p in parts} == {run_id}
    tokens = [
        p.data for p in parts if p.event == "messages" and p.data[0]["type"] == "AIMessageChunk"
    ]
    assert len(tokens) == 5
    message, metadata = tokens[0]
    assert message["content"] == "On sdk:" and message["id"]
    assert metadata["langgraph_node"] == "write" and metadata["thread_id"] == thread["thread_id"]
    final = [p.data for p in parts if p.event == "values"][-1]
    assert [m["type"] for m in final["messages"]] == ["human", "ai"]
    run = await sdk.runs.get(thread["thread_id"], run_id)
    assert (
        run["status"] == "success"
        and run["assistant_id"] == (await sdk.assistants.get("demo"))["assistant_id"]
    )
    assert run["kwargs"]["stream_mode"] == MODES
    read = await sdk.threads.get(thread["thread_id"])
    assert read["status"] == "idle" and read["metadata"]["user"] == "ann"
    assert read["metadata"]["graph_id"] == "demo"
    assert read["values"]["answer"] == final["answer"]


async def test_an_interrupt_and_its_resume_through_command(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await collect(
        sdk.runs.stream(thread_id, "demo", input={**FAST, "approve": True}, stream_mode=MODES)
    )
    (pause,) = [p.data for p in first if p.event == "updates" and "__interrupt__" in p.data]
    (interrupt,) = pause["__interrupt__"]
    assert interrupt["value"]["tool"] == "lookup"
    assert first[-1].event == "values" and first[-1].data["__interrupt__"] == [interrupt]
    run = await sdk.runs.get(thread_id, first[0].data["run_id"])
    assert run["status"] == "success"  # LangGraph's word for a run that paused
    thread = await sdk.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    (waiting,) = thread["interrupts"].values()
    assert waiting == [{"id": interrupt["id"], "value": interrupt["value"]}]
    state = await sdk.threads.get_state(thread_id)
    assert (
        state["next"] == ["lookup"] and state["tasks"][0]["interrupts"][0]["id"] == interrupt["id"]
    )
    assert state["checkpoint"]["thread_id"] == thread_id
    resumed = await collect(
        sdk.runs.stream(thread_id, "demo", command={"resume": True}, stream_mode=["updates"])
    )
    assert [list(p.data) for p in resumed if p.event == "updates"] == [["lookup"], ["write"]]
    assert (await sdk.threads.get(thread_id))["status"] == "idle"
    history = await sdk.threads.get_history(thread_id, limit=3)
    assert len(history) == 3 and history[0]["next"] == [] and history[1]["next"] == ["write"]
    assert (
        history[0]["checkpoint"]["checkpoint_id"]
        == (await sdk.threads.get_state(thread_id))["checkpoint"]["checkpoint_id"]
    )


async def test_join_stream_from_a_middle_event_gives_exactly_the_rest(
    sdk: LangGraphClient,
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(
        thread_id, "demo", input={**FAST, "tokens": 60, "token_delay": 0.02}, stream_mode=MODES
    )
    head: list[StreamPart] = []
    async for part in sdk.runs.join_stream(thread_id, run["run_id"]):
        head.append(part)
        if len(head) == 12:
            break  # leave while the run is live
    rest = await collect(sdk.runs.join_stream(thread_id, run["run_id"], last_event_id=head[-1].id))
    whole = await collect(sdk.runs.join_stream(thread_id, run["run_id"], last_event_id="-1"))
    assert [p.id for p in head + rest] == [p.id for p in whole]
    assert [p.data for p in head + rest] == [p.data for p in whole]
    assert whole[0].event == "metadata" and rest[0].event != "metadata"
    # After the last event, a join ends at once with nothing.
    assert (
        await collect(sdk.runs.join_stream(thread_id, run["run_id"], last_event_id=whole[-1].id))
        == []
    )


async def test_wait_create_join_and_cancel(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    values = await sdk.runs.wait(thread_id, "demo", input={**FAST, "topic": "wait"})
    assert values["answer"].startswith("On wait:")
    paused = await sdk.runs.wait(thread_id, "demo", input={**FAST, "approve": True})
    assert paused["__interrupt__"][0]["value"]["tool"] == "lookup"
    resumed = await sdk.runs.create(thread_id, "demo", command={"resume": False})
    assert resumed["status"] == "pending"
    joined = await sdk.runs.join(thread_id, resumed["run_id"])
    assert "not approved" in joined["facts"]
    slow = await sdk.runs.create(thread_id, "demo", input={**FAST, "delay": 5, "approve": False})
    await asyncio.sleep(0.3)
    await sdk.runs.cancel(thread_id, slow["run_id"])
    await sdk.runs.join(thread_id, slow["run_id"])
    assert (await sdk.runs.get(thread_id, slow["run_id"]))["status"] == "interrupted"
    statuses = [r["status"] for r in await sdk.runs.list(thread_id)]
    assert statuses == ["interrupted", "success", "success", "success"]
    stateless = await sdk.runs.wait(None, "demo", input={**FAST, "topic": "alone"})
    assert stateless["answer"].startswith("On alone:")


async def test_the_other_stream_modes_come_as_langgraph_s_server_sends_them(
    sdk: LangGraphClient,
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    modes = ["messages", "debug", "tasks", "checkpoints"]
    parts = await collect(
        sdk.runs.stream(thread_id, "demo", input={**FAST, "approve": False}, stream_mode=modes)  # type: ignore[arg-type]
    )
    seen = {part.event for part in parts}
    assert {"messages/metadata", "messages/partial", "debug", "tasks", "checkpoints"} <= seen
    # The whole message so far with each chunk, as useStream's legacy messages mode reads it.
    partial = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert partial == sorted(partial, key=len) and partial[-1].startswith("On ")
    checkpoints = [p.data for p in parts if p.event == "checkpoints"]
    assert checkpoints[0]["metadata"]["source"] == "input"
    assert (
        checkpoints[-1]["checkpoint"]["checkpoint_id"]
        == (await sdk.threads.get_state(thread_id))["checkpoint"]["checkpoint_id"]
    )
    debug = {p.data["type"] for p in parts if p.event == "debug"}
    assert debug == {"checkpoint", "task", "task_result"}
    tasks = [p.data for p in parts if p.event == "tasks"]
    assert {t["name"] for t in tasks} >= {"plan", "merge", "write"}


async def test_what_is_not_done_here_is_refused_not_dropped(
    sdk: LangGraphClient, server: Server
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    refusals = [
        ({"webhook": "http://127.0.0.1:9/hook"}, "GATEWAY_WEBHOOK_ALLOW allows no URL"),
    ]
    for options, reason in refusals:
        with pytest.raises(UnprocessableEntityError) as refused:
            await sdk.runs.create(thread_id, "demo", input=FAST, **options)  # type: ignore[arg-type]
        assert reason in str(refused.value)
    # (The SDK's streams send feedback_keys.)
    feedback = {"assistant_id": "demo", "input": FAST, "feedback_keys": ["score"]}
    async with httpx.AsyncClient(base_url=f"{server.url}/langgraph", timeout=10) as raw:
        answer = await raw.post("/runs/wait", json=feedback)
    assert answer.status_code == 422 and "LangSmith feedback" in answer.json()["detail"]
    with pytest.raises(UnprocessableEntityError) as refused:
        await sdk.threads.create(ttl=60)  # type: ignore[arg-type]
    assert "ttl is not supported here" in str(refused.value)
    # The older word for durability is honoured: no checkpoints until the run's end.
    with pytest.warns(DeprecationWarning):  # (the SDK's own, for the older word)
        run = await sdk.runs.create(thread_id, "demo", input=FAST, checkpoint_during=False)
    await sdk.runs.join(thread_id, run["run_id"])
    sources = [s["metadata"]["source"] for s in await sdk.threads.get_history(thread_id)]
    assert "loop" in sources and sources.count("loop") == 1, sources


async def test_errors_come_in_langgraph_s_shapes(sdk: LangGraphClient, server: Server) -> None:
    with pytest.raises(NotFoundError):
        await sdk.threads.get(str(uuid.uuid4()))
    thread_id = (await sdk.threads.create())["thread_id"]
    with pytest.raises(ConflictError):
        await sdk.threads.create(thread_id=thread_id)
    assert (await sdk.threads.create(thread_id=thread_id, if_exists="do_nothing"))[
        "thread_id"
    ] == thread_id
    with pytest.raises(UnprocessableEntityError) as refused:
        await collect(sdk.runs.stream(thread_id, "demo", input=FAST, stream_mode="bogus"))  # type: ignore[arg-type]
    assert "values, updates, messages-tuple, messages, custom, checkpoints" in str(refused.value)
    await sdk.runs.create(thread_id, "demo", input={**FAST, "delay": 0.5})
    with pytest.raises(ConflictError):
        await sdk.runs.create(thread_id, "demo", input=FAST, multitask_strategy="reject")
    async with httpx.AsyncClient(base_url=f"{server.url}/langgraph") as raw:
        response = await raw.get(f"/threads/{uuid.uuid4()}")
        assert response.status_code == 404 and set(response.json()) == {"detail"}
        failed = await raw.post(
            "/runs/wait", json={"assistant_id": "demo", "input": {**FAST, "fail": "plan"}}
        )
        assert failed.json()["__error__"] == {
            "error": "DemoFailure",
            "message": "node 'plan' failed on purpose (input fail='plan')",
        }


async def test_threads_are_searched_updated_and_deleted(sdk: LangGraphClient) -> None:
    tag = uuid.uuid4().hex
    made = [await sdk.threads.create(metadata={"tag": tag, "n": i}) for i in range(3)]
    found = await sdk.threads.search(metadata={"tag": tag}, limit=2)
    assert [t["thread_id"] for t in found] == [made[2]["thread_id"], made[1]["thread_id"]]
    updated = await sdk.threads.update(made[0]["thread_id"], metadata={"n": 9, "more": True})
    assert updated["metadata"] == {"tag": tag, "n": 9, "more": True}
    await sdk.threads.delete(made[0]["thread_id"])
    with pytest.raises(NotFoundError):
        await sdk.threads.get(made[0]["thread_id"])
    assert len(await sdk.threads.search(metadata={"tag": tag})) == 2


async def test_state_updates_apply_as_a_node_would(sdk: LangGraphClient) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "demo", input={**FAST, "approve": True})
    written = await sdk.threads.update_state(thread_id, {"facts": "given"}, as_node="lookup")
    assert written["checkpoint"]["checkpoint_id"]
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["facts"] == "given" and state["next"] == ["write"]
    # Paused before `write` with nothing to answer: LangGraph calls that interrupted too.
    thread = await sdk.threads.get(thread_id)
    assert thread["status"] == "interrupted" and thread["interrupts"] == {}
    done = await sdk.runs.wait(thread_id, "demo", input=None)
    assert done["facts"] == "given" and done["answer"]


async def test_subgraph_events_are_named_by_their_namespace(make_server) -> None:
    srv: Server = make_server("sample_graphs:nested")
    client = get_client(url=f"{srv.url}/langgraph", timeout=30)
    try:
        thread_id = (await client.threads.create())["thread_id"]
        parts = await collect(
            client.runs.stream(
                thread_id, "nested", input={}, stream_mode=["updates"], stream_subgraphs=True
            )
        )
    finally:
        await client.aclose()
    inner = [p for p in parts if p.event.startswith("updates|")]
    assert inner and all(p.event.split("|")[1].startswith("outer:") for p in inner)
    assert inner[0].data["__interrupt__"][0]["value"] == {"question": "inner"}
    assert [p.event for p in parts if p.event == "updates"] == ["updates"]  # the root's own
