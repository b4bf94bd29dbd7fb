"""The AI SDK dialect over raw HTTP against a real uvicorn serving the demo graph: headers and
framing, ids, the exact rejoin from every position, useChat's resume, approvals, a second turn,
errors, cancel and bad input."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import Server, Spawn

QUICK = {"delay": 0.01, "tokens": 6, "token_delay": 0.01}
Part = dict[str, Any]


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("ai-sdk"), checkpointer="memory://")
    yield srv
    srv.stop()


def user(text: str) -> Part:
    return {"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": text}]}


def body(chat_id: str, *messages: Part, **graph_input: Any) -> Part:
    return {
        "id": chat_id,
        "messages": list(messages) or [user("hello")],
        "trigger": "submit-message",
        "input": {**QUICK, **graph_input},
    }


def read(text: str) -> list[tuple[str, Part | str]]:
    """(id, part) of each frame; every frame must be one id line and one data line."""
    out: list[tuple[str, Part | str]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines or lines[0].startswith("retry:"):
            continue
        assert [line.split(":", 1)[0] for line in lines] == ["id", "data"], block
        data = lines[1][6:]
        out.append((lines[0][4:], data if data == "[DONE]" else json.loads(data)))
    return out


def post(server: Server, payload: Part) -> list[tuple[str, Part | str]]:
    answer = httpx.post(f"{server.url}/ai-sdk/chat", json=payload, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["x-vercel-ai-ui-message-stream"] == "v1"
    return read(answer.text)


def resume(server: Server, chat_id: str, last_id: str | None = None) -> httpx.Response:
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    return httpx.get(f"{server.url}/ai-sdk/chat/{chat_id}/stream", headers=headers, timeout=60)


def kinds(parts: list[tuple[str, Part | str]]) -> list[str]:
    return [p if isinstance(p, str) else p["type"] for _, p in parts]


def text(parts: list[tuple[str, Part | str]]) -> str:
    return "".join(
        p["delta"] for _, p in parts if isinstance(p, dict) and p["type"] == "text-delta"
    )


def of_type(parts: list[tuple[str, Part | str]], kind: str) -> list[Part]:
    return [p for _, p in parts if isinstance(p, dict) and p["type"] == kind]


def state(server: Server, chat_id: str) -> Part:
    return httpx.get(f"{server.url}/threads/{chat_id}/state", timeout=10).json()["values"]


class Answer:
    """An answer POSTed and read on a thread of its own, part by part as it comes: a test
    acts while it streams, then `finish()` waits for the rest."""

    def __init__(self, server: Server, payload: Part, deltas: int = 5) -> None:
        self.parts: list[tuple[str, Part | str]] = []
        self.streaming = threading.Event()  # more than `deltas` text deltas have come
        self._thread = threading.Thread(target=self._read, args=(server, payload, deltas))
        self._thread.daemon = True
        self._thread.start()
        assert self.streaming.wait(30), "the answer did not stream"

    def _read(self, server: Server, payload: Part, deltas: int) -> None:
        with httpx.stream("POST", f"{server.url}/ai-sdk/chat", json=payload, timeout=60) as answer:
            buffer = ""
            for chunk in answer.iter_text():
                buffer += chunk
                *blocks, buffer = buffer.split("\n\n")
                self.parts.extend(read("\n\n".join(blocks)))
                if len(of_type(self.parts, "text-delta")) > deltas:
                    self.streaming.set()

    def finish(self) -> list[tuple[str, Part | str]]:
        self._thread.join(60)
        return self.parts


def test_a_message_streams_one_assistant_message_with_ids(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    parts = post(chat, body(chat_id))
    names = kinds(parts)
    assert names[:2] == ["start", "start-step"]
    assert names[-3:] == ["finish-step", "finish", "[DONE]"]
    start, finish = parts[0][1], parts[-2][1]
    assert isinstance(start, dict) and start["messageId"].startswith("msg-")
    assert finish == {"type": "finish", "finishReason": "stop"}
    # One text part per model message, opened, filled and closed.
    (opened,) = of_type(parts, "text-start")
    assert of_type(parts, "text-end") == [{"type": "text-end", "id": opened["id"]}]
    assert all(p["id"] == opened["id"] for p in of_type(parts, "text-delta"))
    assert text(parts).startswith("On hello:")
    # Node progress and the graph's custom events are data parts, each with its id.
    nodes = {p["data"]["node"] for p in of_type(parts, "data-node")}
    assert nodes == {"plan", "research_web", "research_docs", "merge", "lookup", "write"}
    assert of_type(parts, "data-progress")[-1]["data"] == {"step": "planning", "percent": 100}
    # Every frame has its own id, from the run's log: <run>.<seq>.<index>, in order.
    ids = [part_id for part_id, _ in parts]
    run_id = start["messageId"][4:]
    positions = [tuple(int(n) for n in i.split(".")[1:]) for i in ids]
    assert all(i.split(".")[0] == run_id for i in ids)
    assert positions == sorted(set(positions))
    # The thread id is the chat id: the native API shows the conversation.
    messages = state(chat, chat_id)["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"]
    assert messages[1]["id"] == opened["id"] and messages[1]["content"] == text(parts)


def test_a_rejoin_from_every_position_gives_exactly_the_rest(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    parts = post(chat, body(chat_id))
    for number, (part_id, _) in enumerate(parts[:-1]):
        answer = resume(chat, chat_id, part_id)
        assert answer.status_code == 200, (part_id, answer.text)
        assert read(answer.text) == parts[number + 1 :], part_id
    # After the last one there is nothing left: 204, and an EventSource stops.
    assert resume(chat, chat_id, parts[-1][0]).status_code == 204


def test_use_chats_resume_replays_the_answer_being_written_and_nothing_else(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    assert resume(chat, chat_id).status_code == 204  # an unknown chat
    answer = Answer(chat, body(chat_id, tokens=80, token_delay=0.03))
    # Mid-answer, from its start then live: the same parts the first reader gets.
    replayed = resume(chat, chat_id)
    whole = answer.finish()
    assert replayed.status_code == 200
    assert replayed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert read(replayed.text) == whole
    # Once it has finished, the chat is idle: nothing to resume.
    assert resume(chat, chat_id).status_code == 204
    # A rejoin mid-answer with an id gives only what follows it, live.
    answer = Answer(chat, body(chat_id, user("again"), tokens=80, token_delay=0.03))
    position = answer.parts[3][0]
    rest = resume(chat, chat_id, position)
    assert read(rest.text) == answer.finish()[4:]


def approve_parts(parts: list[tuple[str, Part | str]]) -> list[Part]:
    return of_type(parts, "tool-approval-request")


def answered(parts: list[tuple[str, Part | str]], approved: dict[str, bool]) -> Part:
    """The assistant message as useChat sends it back once the approvals are answered."""
    message_id = parts[0][1]["messageId"]  # type: ignore[index]
    calls = {p["toolCallId"]: p for p in of_type(parts, "tool-input-available")}
    tool_parts = []
    for request in approve_parts(parts):
        call = calls[request["toolCallId"]]
        tool_parts.append(
            {
                "type": "dynamic-tool",
                "toolName": call["toolName"],
                "toolCallId": call["toolCallId"],
                "state": "approval-responded",
                "input": call["input"],
                "approval": {"id": request["approvalId"], "approved": approved[call["toolName"]]},
            }
        )
    return {"id": message_id, "role": "assistant", "parts": [{"type": "step-start"}, *tool_parts]}


def test_an_interrupt_is_a_tool_approval_and_the_answer_continues_the_message(
    chat: Server,
) -> None:
    chat_id = uuid.uuid4().hex
    question = user("look it up")
    asked = post(chat, body(chat_id, question, approve=True))
    (request,) = approve_parts(asked)
    call = of_type(asked, "tool-input-available")[0]
    assert call["toolCallId"] == request["toolCallId"]
    assert call["toolName"] == "lookup" and call["input"] == {"topic": "look it up"}
    # Not a reason that ends the chat: useChat may send the answer.
    assert kinds(asked)[-3:] == ["finish-step", "finish", "[DONE]"]
    assert asked[-2][1] == {"type": "finish", "finishReason": "tool-calls"}
    assert resume(chat, chat_id).status_code == 204  # waiting is not streaming

    message = answered(asked, {"lookup": True})
    continued = post(chat, body(chat_id, question, message, approve=False))
    # The same message goes on (useChat would show it twice otherwise), and its first step
    # resolves the approved call.
    assert continued[0][1] == {"type": "start", "messageId": message["id"]}
    assert kinds(continued)[1:3] == ["start-step", "tool-output-available"]
    assert continued[2][1]["toolCallId"] == request["toolCallId"]  # type: ignore[index]
    assert continued[-2][1] == {"type": "finish", "finishReason": "stop"}
    outputs = [p["output"] for p in of_type(continued, "tool-output-available")]
    assert any(isinstance(o, str) and o.startswith("look it up:") for o in outputs)
    assert state(chat, chat_id)["facts"].startswith("look it up:")
    # Answering it again: it is no longer asked.
    again = httpx.post(f"{chat.url}/ai-sdk/chat", json=body(chat_id, question, message))
    assert again.status_code == 409 and again.json()["error"] == "not_waiting"


def test_a_denied_approval_is_shown_denied_and_the_graph_gets_false(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("do not")
    asked = post(chat, body(chat_id, question, approve=True))
    message = answered(asked, {"lookup": False})
    continued = post(chat, body(chat_id, question, message, approve=False))
    (denied,) = of_type(continued, "tool-output-denied")
    assert denied["toolCallId"] == approve_parts(asked)[0]["toolCallId"]
    assert kinds(continued).index("tool-output-denied") == 2
    assert "not approved" in state(chat, chat_id)["facts"]


def test_a_second_message_continues_the_thread_with_each_turn_once(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    first_question = user("first")
    first = post(chat, body(chat_id, first_question))
    reply = {
        "id": first[0][1]["messageId"],  # type: ignore[index]
        "role": "assistant",
        "parts": [{"type": "text", "text": text(first)}],
    }
    # useChat sends the whole conversation: the checkpoint already holds all but the last.
    second = post(chat, body(chat_id, first_question, reply, user("second")))
    assert text(second).startswith("On second (your message 2):")
    messages = state(chat, chat_id)["messages"]
    assert [(m["type"], m["content"][:6]) for m in messages] == [
        ("human", "first"),
        ("ai", "On fir"),
        ("human", "second"),
        ("ai", "On sec"),
    ]
    assert second[0][1]["messageId"] != first[0][1]["messageId"]  # type: ignore[index]


def test_a_failing_node_is_an_error_part_and_the_chat_goes_on(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    failed = post(chat, body(chat_id, user("break"), fail="merge"))
    (error,) = of_type(failed, "error")
    assert error["errorText"] == "DemoFailure: node 'merge' failed on purpose (input fail='merge')"
    assert "Traceback" not in error["errorText"]
    assert kinds(failed)[-3:] == ["finish-step", "finish", "[DONE]"]
    assert failed[-2][1] == {"type": "finish", "finishReason": "error"}
    after = post(chat, body(chat_id, user("and now"), fail=""))
    assert after[-2][1] == {"type": "finish", "finishReason": "stop"}


def test_a_cancelled_run_ends_with_abort(chat: Server) -> None:
    answer = Answer(chat, body(uuid.uuid4().hex, tokens=200, token_delay=0.05), deltas=0)
    run_id = answer.parts[0][1]["messageId"][4:]  # type: ignore[index]
    assert httpx.post(f"{chat.url}/runs/{run_id}/cancel", timeout=10).status_code == 202
    assert kinds(answer.finish())[-3:] == ["text-end", "abort", "[DONE]"]


def test_a_message_while_the_answer_streams_is_409(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    answer = Answer(chat, body(chat_id, tokens=40, token_delay=0.03), deltas=0)
    busy = httpx.post(f"{chat.url}/ai-sdk/chat", json=body(chat_id, user("more")), timeout=10)
    answer.finish()
    assert busy.status_code == 409 and busy.json()["error"] == "thread_busy"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"id": "c", "messages": []}, 422),
        ({"id": "bad id", "messages": [user("x")]}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "robot", "parts": []}]}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "user", "parts": []}]}, 422),
        ({"id": "c", "messages": [user("x")], "trigger": "regenerate-message"}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "assistant", "parts": []}]}, 422),
    ],
)
def test_bad_bodies_are_4xx_json(chat: Server, payload: Part, status: int) -> None:
    answer = httpx.post(f"{chat.url}/ai-sdk/chat", json=payload, timeout=10)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]


def test_approvals_the_chat_does_not_wait_for_are_409(chat: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("ask")
    asked = post(chat, body(chat_id, question, approve=True))
    message = answered(asked, {"lookup": True})
    message["parts"][1]["approval"]["id"] = "not-an-interrupt"
    wrong = httpx.post(f"{chat.url}/ai-sdk/chat", json=body(chat_id, question, message))
    assert wrong.status_code == 409 and wrong.json()["error"] == "approval_not_pending"
    idle = uuid.uuid4().hex
    post(chat, body(idle))
    stray = httpx.post(
        f"{chat.url}/ai-sdk/chat", json=body(idle, question, answered(asked, {"lookup": True}))
    )
    assert stray.status_code == 409 and stray.json()["error"] == "not_waiting"


def test_bad_rejoins_are_refused(chat: Server) -> None:
    chat_id, other = uuid.uuid4().hex, uuid.uuid4().hex
    parts = post(chat, body(chat_id))
    post(chat, body(other))
    for malformed in ("x", "1.2", "abc.1.x", "a b.1.1"):
        answer = resume(chat, chat_id, malformed)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_last_event_id"
    foreign = resume(chat, other, parts[3][0])
    assert foreign.status_code == 400 and foreign.json()["error"] == "foreign_last_event_id"
    run_id = parts[0][0].split(".")[0]
    beyond = resume(chat, chat_id, f"{run_id}.99999.0")
    assert beyond.status_code == 400
    assert resume(chat, chat_id, f"{uuid.uuid4().hex}.1.0").status_code == 404


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("ai-sdk-assistant"), "ai_sdk_graphs:assistant")
    yield srv
    srv.stop()


def test_the_models_tool_call_is_approved_on_its_own_part(assistant: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("Paris")
    asked = post(assistant, {**body(chat_id, question), "input": {}})
    (call,) = of_type(asked, "tool-input-available")
    assert call == {
        "type": "tool-input-available",
        "toolCallId": "call-weather-1",
        "toolName": "weather",
        "dynamic": True,
        "input": {"city": "Paris"},
    }
    # The interrupt names the call the stream showed: the approval is asked on it.
    (request,) = approve_parts(asked)
    assert request["toolCallId"] == "call-weather-1"
    assert kinds(asked).index("tool-input-start") < kinds(asked).index("tool-approval-request")
    assert text(asked).startswith("On checking Paris:")

    continued = post(assistant, body(chat_id, question, answered(asked, {"weather": True})))
    outputs = [(p["toolCallId"], p["output"]) for p in of_type(continued, "tool-output-available")]
    # Resolved in the first step, then the tool's own output in its place; never shown again.
    assert outputs == [("call-weather-1", {"approved": True}), ("call-weather-1", "sunny in Paris")]
    assert of_type(continued, "tool-input-start") == []
    assert text(continued).startswith("On reply Paris:")


def test_a_denied_call_is_answered_by_the_graph(assistant: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("Oslo")
    asked = post(assistant, {**body(chat_id, question), "input": {}})
    continued = post(assistant, body(chat_id, question, answered(asked, {"weather": False})))
    assert [p["toolCallId"] for p in of_type(continued, "tool-output-denied")] == ["call-weather-1"]
    assert of_type(continued, "tool-output-available") == []
    messages = state(assistant, chat_id)["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2]["content"] == "the person said no"


def test_use_chats_resume_of_a_continued_answer_replays_the_whole_message(
    assistant: Server,
) -> None:
    chat_id = uuid.uuid4().hex
    question = user("Rome")
    # The thread's state keeps the pace for the answer's continuation (a resume takes no input).
    pace = {"tokens": 40, "token_delay": 0.03}
    asked = post(assistant, {**body(chat_id, question), "input": pace})
    answer = Answer(assistant, body(chat_id, question, answered(asked, {"weather": True})))
    replayed = resume(assistant, chat_id)
    whole = answer.finish()
    # One message: the part that asked, then the part that answers; one start, one finish.
    assert read(replayed.text) == asked[:-2] + whole[1:]
    assert kinds(read(replayed.text)).count("start") == 1


@pytest.fixture(scope="module")
def approvals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("ai-sdk-approvals"), "sample_graphs:approvals")
    yield srv
    srv.stop()


def test_several_interrupts_are_answered_in_one_message(approvals: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("ask both")
    asked = post(approvals, {**body(chat_id, question), "input": {}})
    requests = approve_parts(asked)
    calls = of_type(asked, "tool-input-available")
    # A value that names no tool is a generic approval of itself.
    assert {c["toolName"] for c in calls} == {"interrupt"}
    assert sorted(c["input"]["question"] for c in calls) == ["a", "b"]
    message = answered(asked, {"interrupt": True})
    by_call = {c["toolCallId"]: c["input"]["question"] for c in calls}
    for part in message["parts"][1:]:
        part["approval"]["approved"] = by_call[part["toolCallId"]] == "a"
    continued = post(approvals, body(chat_id, question, message))
    assert len(requests) == 2 and continued[-2][1]["finishReason"] == "stop"  # type: ignore[index]
    assert sorted(state(approvals, chat_id)["answers"]) == ["a=True", "b=False"]


def test_a_new_attempt_closes_the_text_the_one_before_left_open() -> None:
    from app.dialects.ai_sdk.parts import UiRun
    from app.events import encode_event

    log = [
        ("run.start", {}),
        ("node.start", {"node": "write", "span_id": "w1"}),
        ("token", {"node": "write", "span_id": "m1", "message_id": "a", "text": "On"}),
        ("run.attempt", {"attempt": 2, "reason": "process_lost", "unfinished": {}}),
        ("node.start", {"node": "write", "span_id": "w2"}),
        ("token", {"node": "write", "span_id": "m2", "message_id": "b", "text": "On"}),
    ]
    run = UiRun("r", "msg-r")
    parts = [
        part
        for seq, (name, fields) in enumerate(log, 1)
        for part in run.parts(encode_event("r", seq, name, fields, 0, 65_536))
    ]
    assert [p if isinstance(p, str) else p["type"] for p in parts] == [
        "start",
        "start-step",
        "data-node",
        "text-start",
        "text-delta",
        "text-end",
        "data-run-attempt",
        "data-node",
        "text-start",
        "text-delta",
    ]
    assert parts[6] == {
        "type": "data-run-attempt",
        "id": "run-attempt",
        "data": {"attempt": 2, "reason": "process_lost", "unfinished": {}},
    }


def test_gateways_over_redis_resume_each_others_answers(
    spawn: Spawn, redis_server: Any, postgres_server: Any
) -> None:
    shared = {"checkpointer": postgres_server.url, "store_url": redis_server.url}
    a, b = spawn(**shared), spawn(**shared)
    chat_id = uuid.uuid4().hex
    answer = Answer(a, body(chat_id, tokens=60, token_delay=0.03))
    position = answer.parts[-1][0]
    replayed = resume(b, chat_id)  # useChat's resume, on the other process
    whole = answer.finish()
    assert read(replayed.text) == whole
    rest = resume(b, chat_id, position)  # and an exact rejoin there, after the end
    assert read(rest.text) == whole[[i for i, _ in whole].index(position) + 1 :]


def test_an_answer_whose_process_dies_goes_on_elsewhere_and_says_so(
    spawn: Spawn, private_redis: Any, postgres_server: Any
) -> None:
    import signal

    shared = {
        "checkpointer": postgres_server.url,
        "store_url": private_redis.url,
        "run_lease_seconds": 1.5,
    }
    a, b = spawn(**shared), spawn(**shared)
    chat_id = uuid.uuid4().hex
    seen: list[tuple[str, Part | str]] = []
    payload = body(chat_id, tokens=120, token_delay=0.05)
    with httpx.stream("POST", f"{a.url}/ai-sdk/chat", json=payload, timeout=60) as answer:
        buffer = ""
        for chunk in answer.iter_text():
            buffer += chunk
            *blocks, buffer = buffer.split("\n\n")
            seen.extend(read("\n\n".join(blocks)))
            if len(of_type(seen, "text-delta")) > 10:
                a.process.send_signal(signal.SIGKILL)
                break
    a.process.wait(10)
    rest = read(resume(b, chat_id, seen[-1][0]).text)
    whole = seen + rest
    names = kinds(whole)
    # The text the lost attempt began is closed, the attempt said, and the answer made again.
    assert names.count("start") == 1 and names[-2:] == ["finish", "[DONE]"]
    (attempt,) = of_type(whole, "data-run-attempt")
    assert attempt["data"]["attempt"] == 2
    opened = [p["id"] for p in of_type(whole, "text-start")]
    assert len(opened) == 2 and [p["id"] for p in of_type(whole, "text-end")] == opened
    assert whole[-2][1] == {"type": "finish", "finishReason": "stop"}
    ids = [i for i, _ in whole]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def reasoner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("ai-sdk-reasoner"), "ai_sdk_graphs:reasoner")
    yield srv
    srv.stop()


def test_a_models_reasoning_is_a_reasoning_part_before_its_text(reasoner: Server) -> None:
    parts = post(reasoner, {**body(uuid.uuid4().hex), "input": {}})
    streamed = [p for _, p in parts if isinstance(p, dict) and p["type"] != "data-node"]
    (opened,) = of_type(parts, "reasoning-start")
    assert [p["type"] for p in streamed][2:] == [
        "reasoning-start",
        *["reasoning-delta"] * 4,
        "reasoning-end",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
    deltas = of_type(parts, "reasoning-delta")
    assert "".join(p["delta"] for p in deltas) == "The question is short."
    assert {p["id"] for p in deltas} == {opened["id"]} != {of_type(parts, "text-start")[0]["id"]}
    assert text(parts) == "Short answer."


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("ai-sdk-agent"), "ai_sdk_graphs:agent")
    yield srv
    srv.stop()


def test_create_agents_approvals_are_asked_on_the_models_calls(agent: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("bob carol")
    asked = post(agent, {**body(chat_id, question), "input": {}})
    assert text(asked) == "Emailing them."
    calls = [p["toolCallId"] for p in of_type(asked, "tool-input-available")]
    assert calls == ["call-bob", "call-carol"]
    # HumanInTheLoopMiddleware asks about both calls in one interrupt: one approval each, on
    # the model's own call, its description as the reason.
    requests = approve_parts(asked)
    assert [r["toolCallId"] for r in requests] == calls
    (interrupt_id,) = {r["approvalId"].rsplit(":", 1)[0] for r in requests}
    assert [r["approvalId"] for r in requests] == [f"{interrupt_id}:0", f"{interrupt_id}:1"]
    assert "Tool: send_email" in requests[0]["reason"]

    message = answered(asked, {"send_email": True})
    bob, carol = message["parts"][1:]
    # They are answered together: one alone is refused.
    alone = {**message, "parts": [message["parts"][0], bob]}
    refused = httpx.post(f"{agent.url}/ai-sdk/chat", json=body(chat_id, question, alone))
    assert refused.status_code == 409 and refused.json()["error"] == "approval_incomplete"

    carol["approval"] = {**carol["approval"], "approved": False, "reason": "not carol"}
    continued = post(agent, body(chat_id, question, message))
    outputs = [(p["toolCallId"], p["output"]) for p in of_type(continued, "tool-output-available")]
    assert outputs == [("call-bob", {"approved": True}), ("call-bob", "sent to bob")]
    assert [p["toolCallId"] for p in of_type(continued, "tool-output-denied")] == ["call-carol"]
    assert of_type(continued, "tool-input-start") == []
    # The refusal reached the model with its reason, as the middleware words it.
    assert text(continued) == (
        "Done: User rejected the tool call for `send_email` with reason: not carol; sent to bob"
    )


def test_with_auth_on_the_dialect_asks_for_credentials_and_keeps_chats_apart(
    spawn: Spawn,
) -> None:
    keys = {"alice": "a" * 20, "bob": "b" * 20}
    srv = spawn(
        checkpointer="memory://",
        auth="api-keys",
        api_keys=",".join(f"{p}:{k}" for p, k in keys.items()),
    )
    chat_id = uuid.uuid4().hex
    url = f"{srv.url}/ai-sdk/chat"
    assert httpx.post(url, json=body(chat_id), timeout=10).status_code == 401
    alice = {"X-Api-Key": keys["alice"]}
    answer = httpx.post(url, json=body(chat_id), headers=alice, timeout=30)
    assert answer.status_code == 200 and read(answer.text)[-2][1]["type"] == "finish"
    last_id = read(answer.text)[3][0]
    assert httpx.get(f"{url}/{chat_id}/stream", timeout=10).status_code == 401
    # Another principal's chat is not theirs to write in, or to read.
    bob = {"X-Api-Key": keys["bob"]}
    taken = httpx.post(url, json=body(chat_id, user("mine now")), headers=bob, timeout=10)
    assert taken.status_code == 404
    rejoin = httpx.get(f"{url}/{chat_id}/stream", headers={**bob, "Last-Event-ID": last_id})
    assert rejoin.status_code == 404  # as if it did not exist
    assert httpx.get(f"{url}/{chat_id}/stream", headers=bob, timeout=10).status_code == 204
    mine = httpx.get(f"{url}/{chat_id}/stream", headers={**alice, "Last-Event-ID": last_id})
    assert mine.status_code == 200


def test_a_failing_tool_is_a_tool_output_error_on_its_call(assistant: Server) -> None:
    chat_id = uuid.uuid4().hex
    question = user("Atlantis")
    asked = post(assistant, {**body(chat_id, question), "input": {}})
    continued = post(assistant, body(chat_id, question, answered(asked, {"weather": True})))
    (failed,) = of_type(continued, "tool-output-error")
    assert failed == {
        "type": "tool-output-error",
        "toolCallId": "call-weather-1",
        "errorText": "ValueError: no weather in Atlantis",
    }
    # The ToolNode answered the call with the error, and the graph went on.
    assert continued[-2][1] == {"type": "finish", "finishReason": "stop"}
    assert text(continued).startswith("On reply Atlantis:")
