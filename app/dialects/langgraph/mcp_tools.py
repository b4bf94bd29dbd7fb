"""The assistants served here as MCP tools, as LangGraph's server makes them: what
`tools/list` and `tools/call` answer on its MCP endpoint (app/dialects/langgraph/mcp.py).

A call is a stateless run of the assistant with the tool's arguments as its input, awaited as
/runs/wait awaits it, and answered with what LangGraph's server answers.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

import mcp.types as types
import orjson
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.requests import Request

from app.dialects.langgraph import requests as body
from app.dialects.langgraph import streams
from app.dialects.langgraph.assistant_schemas import assistant_schemas
from app.dialects.langgraph.assistants import assistants_of
from app.dialects.langgraph.routes import caller, start_run
from app.errors import ApiError
from app.payload import dumps
from app.runs import AtCapacity, Draining
from app.store.base import StoreUnavailable

logger = logging.getLogger(__name__)

PAGE = 100  # tools a tools/list answers at once, as LangGraph's server
# MCP tool names: ASCII letters, digits, `_`, `-` and `.`, at most 128 of them.
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_\-.]")
_NAME_LENGTH = 128
# LangChain's message types: LangGraph's server describes a list of messages to MCP clients
# as one string, the user's message, and drops these definitions.
_MESSAGES = {
    f"{kind}{chunk}"
    for kind in ("AI", "Human", "Chat", "System", "Function", "Tool")
    for chunk in ("Message", "MessageChunk")
}
_MESSAGE_PARTS = {
    "ToolCall",
    "ToolCallChunk",
    "InvalidToolCall",
    "UsageMetadata",
    "InputTokenDetails",
    "OutputTokenDetails",
}
# A run's refusals, the same as the run routes answer with a status.
_REFUSED = (ApiError, AtCapacity, Draining, StoreUnavailable)


def tool_name(assistant_name: str) -> str:
    """An assistant's name as an MCP tool's, as LangGraph's server makes it."""
    name = re.sub(r"\s+", "_", assistant_name.strip())
    return _NOT_IN_NAME.sub("", name)[:_NAME_LENGTH]


def tool_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The graph's input schema as LangGraph's server gives it to MCP clients: an object, with
    a list of LangChain messages asked for as the user's message (a string)."""
    schema = copy.deepcopy(input_schema)
    defs = schema.get("$defs") or {}
    if set(defs) & _MESSAGES:
        for name in _MESSAGES | _MESSAGE_PARTS:
            defs.pop(name, None)
        if not defs:
            del schema["$defs"]
        properties = schema.get("properties", {})
        for key, prop in properties.items():
            if _lists_messages(prop):
                properties[key] = {
                    "type": "string",
                    "title": prop.get("title", key),
                    "description": "The user message to send to the agent.",
                }
    schema.setdefault("type", "object")
    return schema


def _lists_messages(prop: dict[str, Any]) -> bool:
    if prop.get("type") != "array":
        return False
    items = prop.get("items", {})
    refs = [c.get("$ref", "") for c in items.get("oneOf") or items.get("anyOf") or []]
    return any(ref.removeprefix("#/$defs/") in _MESSAGES for ref in refs)


def _request(ctx: ServerRequestContext[Any, Any]) -> Request:
    # The HTTP request the message came in (the transport keeps it beside each message): its
    # app's state and the caller's credentials.
    if not isinstance(ctx.request, Request):
        raise MCPError(types.INTERNAL_ERROR, "MCP is answered over HTTP only")
    return ctx.request


async def list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    request = _request(ctx)
    cursor = params.cursor if params is not None else None
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    found = await assistants_of(request).search()
    manager = request.app.state.manager
    schemas = {
        graph_id: assistant_schemas(served.graph)["input_schema"]
        for graph_id, served in manager.graphs.items()
    }
    tools: dict[str, types.Tool] = {}
    for assistant in found[offset : offset + PAGE]:
        schema = schemas.get(assistant["graph_id"])
        if schema is None:  # (LangGraph's server leaves out a graph it cannot describe)
            continue
        name = tool_name(assistant["name"])
        if name in tools:
            logger.warning("MCP: assistant %r is not listed: %r is taken", assistant["name"], name)
            continue
        tools[name] = types.Tool(
            name=name,
            title=assistant["name"],
            description=assistant.get("description")
            or f"Tool based on the {assistant['name']} assistant",
            input_schema=tool_schema(schema),
            annotations=types.ToolAnnotations(
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=True,
            ),
        )
    more = offset + PAGE < len(found)
    return types.ListToolsResult(
        tools=list(tools.values()), next_cursor=str(offset + PAGE) if more else None
    )


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    request = _request(ctx)
    found = await assistants_of(request).search()
    named = [a for a in found if tool_name(a["name"]) == params.name]
    if not named:
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
    if len(named) > 1:
        raise MCPError(types.INVALID_PARAMS, "Multiple tools found with the same name.")
    # (LangGraph's server takes a run's context beside the arguments, outside MCP's params.)
    context = (ctx.params or {}).get("context")
    query = body.RunCreate(
        assistant_id=named[0]["assistant_id"],
        input=params.arguments or {},
        context=context if isinstance(context, dict) else None,
    )
    try:
        record = await start_run(request, query, None)
        threads = request.app.state.threads.scoped(await caller(request))
        values = await streams.final_values(request.app.state.manager, threads, record)
    except _REFUSED as exc:
        raise MCPError(types.INTERNAL_ERROR, str(exc)) from exc
    if "__error__" in values:
        failure = values["__error__"] or {}
        text = failure.get("error") or "the run failed"
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
    # LangGraph's server answers with the Python repr of what /runs/wait answers in JSON.
    shown = repr(orjson.loads(dumps(values)))
    return types.CallToolResult(content=[types.TextContent(text=shown)])
