"""LangGraph's MCP endpoint, read by the `mcp` package's own client: the assistants are tools,
described by the graph's input schema, and a call is a run that answers what /runs/wait
answers; unknown tools and failed runs are errors in MCP's terms, and auth applies."""

from __future__ import annotations

import ast
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from conftest import Server, Spawn, client_for, start_server
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

FAST = {"delay": 0.01, "tokens": 3, "token_delay": 0.002}
KEY = "key-mcp-0123456789abcdef"
WAIT = 30  # seconds any one exchange may take
ACCEPT = "application/json, text/event-stream"  # as MCP's clients send it


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("mcp"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("mcp-keyed"), auth="api-keys", api_keys=f"mcp:{KEY}")
    yield srv
    srv.stop()


@contextlib.asynccontextmanager
async def session(srv: Server, key: str | None = None) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with the gateway's endpoint, the URL a client is given."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=WAIT) as http,
        streamable_http_client(f"{srv.url}/langgraph/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as opened,
    ):
        with anyio.fail_after(WAIT):
            await opened.initialize()
        yield opened


def without_message_ids(values: dict[str, Any]) -> dict[str, Any]:
    # Each run makes its messages anew, with ids of their own.
    messages = [{k: v for k, v in m.items() if k != "id"} for m in values.get("messages", [])]
    return {**values, "messages": messages}


def runs_wait(srv: Server, assistant_id: str, given: dict[str, Any]) -> dict[str, Any]:
    with client_for(srv) as client:
        answer = client.post(
            "/langgraph/runs/wait", json={"assistant_id": assistant_id, "input": given}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_the_served_graph_is_a_tool_described_by_its_input_schema(served: Server) -> None:
    with client_for(served) as client:
        schemas = client.get("/langgraph/assistants/demo/schemas").json()
    async with session(served) as opened:
        with anyio.fail_after(WAIT):
            listed = await opened.list_tools()
    assert opened.initialize_result is not None
    assert opened.initialize_result.server_info.name == "langgraph-sse-gateway"
    assert [tool.name for tool in listed.tools] == ["demo"]
    (tool,) = listed.tools
    assert tool.description == "Tool based on the demo assistant"
    expected = schemas["input_schema"]
    assert tool.input_schema["type"] == "object"
    assert tool.input_schema["title"] == expected["title"]
    assert set(tool.input_schema["properties"]) == set(expected["properties"])
    for name, prop in expected["properties"].items():
        if name != "messages":
            assert tool.input_schema["properties"][name] == prop
    # As LangGraph's server describes a list of messages to MCP clients: the user's message.
    assert tool.input_schema["properties"]["messages"]["type"] == "string"
    assert "$defs" not in tool.input_schema
    assert listed.next_cursor is None


async def test_a_call_runs_the_graph_and_answers_what_runs_wait_answers(served: Server) -> None:
    given = {**FAST, "topic": "mcp"}
    async with session(served) as opened:
        with anyio.fail_after(WAIT):
            called = await opened.call_tool("demo", given)
    assert not called.is_error
    (content,) = called.content
    assert content.type == "text"
    # LangGraph's server answers with the Python repr of the run's final values.
    values = ast.literal_eval(content.text)
    assert values["answer"] == "On mcp: Server-sent events"
    assert without_message_ids(values) == without_message_ids(runs_wait(served, "demo", given))


async def test_a_message_is_asked_for_and_taken_as_a_string(served: Server) -> None:
    async with session(served) as opened:
        with anyio.fail_after(WAIT):
            called = await opened.call_tool("demo", {**FAST, "messages": "tell me about MCP"})
    assert not called.is_error
    messages = ast.literal_eval(called.content[0].text)["messages"]  # type: ignore[union-attr]
    assert messages[0]["type"] == "human"
    assert messages[0]["content"] == "tell me about MCP"


async def test_a_failed_run_is_an_error_result(served: Server) -> None:
    async with session(served) as opened:
        with anyio.fail_after(WAIT):
            called = await opened.call_tool("demo", {**FAST, "fail": "plan"})
    assert called.is_error
    assert [c.text for c in called.content] == ["DemoFailure"]  # type: ignore[union-attr]


async def test_an_unknown_tool_is_an_mcp_error(served: Server) -> None:
    async with session(served) as opened:
        with anyio.fail_after(WAIT), pytest.raises(MCPError) as refused:
            await opened.call_tool("no-such-tool", {})
        assert refused.value.message == "Unknown tool: no-such-tool"
        # The session goes on.
        with anyio.fail_after(WAIT):
            assert [tool.name for tool in (await opened.list_tools()).tools] == ["demo"]


async def test_an_assistant_made_over_the_graph_is_a_tool_of_its_own(served: Server) -> None:
    with client_for(served) as client:
        made = client.post(
            "/langgraph/assistants",
            json={"graph_id": "demo", "name": "Topic writer!", "description": "Writes on topics"},
        )
        assert made.status_code == 200, made.text
        try:
            async with session(served) as opened:
                with anyio.fail_after(WAIT):
                    tools = {tool.name: tool for tool in (await opened.list_tools()).tools}
                    called = await opened.call_tool("Topic_writer", {**FAST, "topic": "tools"})
        finally:
            client.delete(f"/langgraph/assistants/{made.json()['assistant_id']}")
    # Tool names keep only the characters MCP allows, spaces made underscores.
    assert set(tools) == {"demo", "Topic_writer"}
    assert tools["Topic_writer"].title == "Topic writer!"
    assert tools["Topic_writer"].description == "Writes on topics"
    assert not called.is_error
    assert ast.literal_eval(called.content[0].text)["answer"] == "On tools: Server-sent events"  # type: ignore[union-attr]


async def test_assistants_whose_names_make_one_tool_name_are_one_tool_not_callable(
    served: Server,
) -> None:
    with client_for(served) as client:
        made = [
            client.post("/langgraph/assistants", json={"graph_id": "demo", "name": name}).json()
            for name in ("Twin!", "Twin?")
        ]
        try:
            async with session(served) as opened:
                with anyio.fail_after(WAIT):
                    names = [tool.name for tool in (await opened.list_tools()).tools]
                with anyio.fail_after(WAIT), pytest.raises(MCPError) as refused:
                    await opened.call_tool("Twin", FAST)
        finally:
            for assistant in made:
                client.delete(f"/langgraph/assistants/{assistant['assistant_id']}")
    assert sorted(names) == ["Twin", "demo"]
    assert refused.value.message == "Multiple tools found with the same name."


def test_a_call_runs_as_its_assistant_with_the_context_it_is_given(spawn: Spawn) -> None:
    srv = spawn("assistant_graphs:echo")
    made = {"graph_id": "echo", "name": "greeter", "context": {"greeting": "hi", "style": "plain"}}
    # (MCP's client sends no context: LangGraph's server takes one beside the arguments.)
    call = {"name": "greeter", "arguments": {}, "context": {"style": "bold"}}
    message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": call}
    with client_for(srv) as client:
        assert client.post("/langgraph/assistants", json=made).status_code == 200
        answer = client.post("/langgraph/mcp", json=message, headers={"accept": ACCEPT})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == 7
    result = answer.json()["result"]
    assert not result.get("isError")
    values = ast.literal_eval(result["content"][0]["text"])
    assert values["seen"]["context"] == {"greeting": "hi", "style": "bold"}


def test_there_is_no_stream_and_no_session_to_end(served: Server) -> None:
    with client_for(served) as client:
        for method in ("GET", "DELETE"):
            for path in ("/langgraph/mcp", "/langgraph/mcp/"):
                answer = client.request(method, path, headers={"accept": "text/event-stream"})
                assert answer.status_code == 405, (method, path, answer.text)


async def test_without_credentials_the_endpoint_refuses(keyed: Server) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"accept": ACCEPT}
    with client_for(keyed) as client:
        for key in (None, "not-a-key-at-all-0000"):
            sent = {**headers, **({"authorization": f"Bearer {key}"} if key else {})}
            answer = client.post("/langgraph/mcp", json=message, headers=sent)
            assert answer.status_code == 401
            assert set(answer.json()) == {"detail"}
        answer = client.post(
            "/langgraph/mcp", json=message, headers={**headers, "authorization": f"Bearer {KEY}"}
        )
        assert answer.status_code == 200
        assert [tool["name"] for tool in answer.json()["result"]["tools"]] == ["demo"]
    # MCP's client is refused too (and says so in its own words: the status is not in them).
    with anyio.fail_after(WAIT), pytest.raises(BaseException) as refused:
        async with session(keyed):
            pass
    assert any(isinstance(e, MCPError) for e in _inside(refused.value)), refused.value


async def test_with_its_key_the_caller_lists_and_calls_the_tools(keyed: Server) -> None:
    async with session(keyed, KEY) as opened:
        with anyio.fail_after(WAIT):
            assert [tool.name for tool in (await opened.list_tools()).tools] == ["demo"]
            called = await opened.call_tool("demo", {**FAST, "topic": "keys"})
    assert not called.is_error
    assert ast.literal_eval(called.content[0].text)["answer"] == "On keys: Server-sent events"  # type: ignore[union-attr]


def _inside(error: BaseException) -> Iterator[BaseException]:
    """An error and those inside it (anyio's task groups nest them)."""
    yield error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _inside(inner)
